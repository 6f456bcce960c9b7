// tickstock's operations console. Plain JavaScript: it reads the same JSON API as every
// other client, re-reads a part when /events says that part changed, and builds every
// node with createElement/textContent, never from an HTML string, so text from plugins, vendors or
// requests is shown as text. The bearer token lives in this tab's sessionStorage only.

const TOKEN_KEY = 'tickstock-token';
const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86_400_000;

// ---- small helpers ---------------------------------------------------------------------

/** An element with attributes (`class`, `text`, `on<event>`, others as attributes) and children. */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  decorate(element, attrs, children);
  return element;
}

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  decorate(element, attrs, children);
  return element;
}

function decorate(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') element.textContent = String(value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function replace(target, ...children) {
  const element = typeof target === 'string' ? document.getElementById(target) : target;
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

const isoDate = (ms) => new Date(ms).toISOString().slice(0, 10);
const number = (value) => (value ?? 0).toLocaleString('en-US');
const shortSha = (sha) => (sha || '').slice(0, 12);

function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  seconds = Math.floor(seconds);
  const d = Math.floor(seconds / 86400), hh = Math.floor((seconds % 86400) / 3600);
  const mm = Math.floor((seconds % 3600) / 60), ss = seconds % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return (d ? `${d}d ` : '') + `${pad(hh)}:${pad(mm)}:${pad(ss)}`;
}

function timeIn(zone, ms) {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(new Date(ms));
}

function notice(message, isError = false) {
  const box = document.getElementById('notice');
  box.textContent = message;
  box.className = isError ? 'error' : '';
  box.hidden = false;
  // Good news fades after a while; an error stays until the next message.
  clearTimeout(notice.timer);
  if (!isError) notice.timer = setTimeout(() => { box.hidden = true; }, 10_000);
}

// ---- the API ---------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: text };
  }
  if (!response.ok) throw new ApiFailure(response.status, body.error || response.statusText);
  return body;
}

/** A mutating call: POST with the tab's token. */
async function act(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await api(path, { method: 'POST', headers, body: body === undefined ? '' : JSON.stringify(body) });
  } catch (error) {
    if (error.status === 401) {
      notice('This action needs the server\'s token: enter it in the Token box at the top.', true);
      document.getElementById('token-input').focus();
    } else {
      notice(`${path}: ${error.message}`, true);
    }
    throw error;
  }
}

function showTokenState() {
  const set = Boolean(sessionStorage.getItem(TOKEN_KEY));
  document.getElementById('token-state').textContent = set ? 'set for this tab' : '';
}

document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('token-input');
  if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
  else sessionStorage.removeItem(TOKEN_KEY);
  input.value = '';
  showTokenState();
});

// ---- pages -----------------------------------------------------------------------------

const refreshers = {};
let currentPage = 'markets';

function showPage() {
  const wanted = (location.hash || '#markets').slice(1);
  currentPage = refreshers[wanted] ? wanted : 'markets';
  for (const section of document.querySelectorAll('main > section')) {
    section.hidden = section.dataset.page !== currentPage;
  }
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === currentPage) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  refresh(currentPage);
}

/** Runs a page's refresher, at most one at a time per page, once more if asked meanwhile. */
const running = {};
async function refresh(page) {
  if (running[page]) {
    running[page] = 'again';
    return;
  }
  running[page] = true;
  try {
    await refreshers[page]();
  } catch (error) {
    notice(`${page}: ${error.message}`, true);
  } finally {
    const again = running[page] === 'again';
    running[page] = false;
    if (again) refresh(page);
  }
}

// ---- Markets ---------------------------------------------------------------------------

let calendars = [];
let markets = [];
let marketsFetchedAt = 0;

async function fetchCalendars() {
  calendars = await api('/calendars');
  for (const select of document.querySelectorAll('select[name="exchange"]')) {
    const chosen = select.value || 'XNYS';
    replace(select, calendars.map((c) => h('option', { value: c.mic, text: c.mic, selected: c.mic === chosen })));
  }
}

refreshers.markets = async () => {
  await fetchCalendars();
  const now = Date.now();
  const from = isoDate(now - DAY_MS), to = isoDate(now + 2 * DAY_MS);
  const horizon = isoDate(now + 30 * DAY_MS);
  const years = [...new Set([new Date(now).getUTCFullYear(), new Date(now + 30 * DAY_MS).getUTCFullYear()])];
  markets = await Promise.all(calendars.map(async (calendar) => {
    const mic = encodeURIComponent(calendar.mic);
    const [status, sessions, ...holidays] = await Promise.all([
      api(`/calendars/${mic}/status`),
      api(`/calendars/${mic}/sessions?from=${from}&to=${to}`).catch(() => ({ sessions: [] })),
      ...years.map((year) => api(`/calendars/${mic}/holidays?year=${year}`).catch(() => ({ holidays: [] }))),
    ]);
    const today = isoDate(now);
    const specials = holidays.flatMap((answer) => answer.holidays)
      .filter((day) => day.date >= today && day.date <= horizon);
    return { calendar, status, sessions: sessions.sessions, specials, today };
  }));
  marketsFetchedAt = Date.now();
  replace('markets', markets.map(marketCard));
  tick();
};

function marketCard(market) {
  const { calendar, status, specials, today } = market;
  const earlyToday = specials.find((day) => day.date === today && day.kind.startsWith('early close'));
  return h('div', { class: 'market', id: `market-${calendar.mic}`, 'data-mic': calendar.mic },
    h('div', {},
      h('div', { class: 'name' }, calendar.mic, ' ', h('span', { class: `badge state ${status.state}`, text: status.state }),
        earlyToday ? h('span', { class: 'tag early', text: `early close today (${earlyToday.kind.slice(12)})` }) : null),
      h('div', { class: 'meta', text: calendar.exchange_name }),
      h('div', { class: 'meta' }, 'local ', h('span', { class: 'local-clock', 'data-zone': calendar.timezone }),
        ` ${calendar.timezone}`),
      h('div', { class: 'countdown', 'data-until': status.until || '', 'data-state': status.state }),
      status.reason ? h('div', { class: 'meta', text: status.reason }) : null),
    h('div', {},
      svg('svg', { class: 'timeline', viewBox: '0 0 1440 34', preserveAspectRatio: 'none', 'data-mic': calendar.mic }),
      h('div', { class: 'specials' },
        specials.length === 0 ? h('span', { class: 'empty', text: 'no special days in the next 30 days' }) : null,
        specials.map((day) => h('button', {
          type: 'button', class: `special ${day.certainty}`, 'data-date': day.date,
          title: `${day.rule} (${day.certainty}; ${day.source})`,
          onclick: () => explain(calendar.mic, day.date),
        }, `${day.date} ${day.name} · ${day.kind}${day.certainty === 'official' ? '' : ` · ${day.certainty}`}`)))));
}

/** The 24 hours from 8 h ago: sessions, breaks, hour marks and now. */
function drawTimeline(element, sessions, now) {
  const start = now - 8 * 3600_000, span = DAY_MS;
  const x = (ms) => Math.max(0, Math.min(1440, ((ms - start) / span) * 1440));
  const parts = [];
  for (let hour = Math.ceil(start / 3600_000) * 3600_000; hour < start + span; hour += 3600_000) {
    const hx = x(hour);
    parts.push(svg('line', { class: 'hour', x1: hx, x2: hx, y1: 0, y2: 22 }));
    const label = new Date(hour).getUTCHours();
    if (label % 3 === 0) parts.push(svg('text', { x: hx + 2, y: 32, text: `${String(label).padStart(2, '0')}Z` }));
  }
  for (const session of sessions) {
    const open = Date.parse(session.open), close = Date.parse(session.close);
    if (close < start || open > start + span) continue;
    parts.push(svg('rect', { class: 'session', x: x(open), y: 2, width: x(close) - x(open), height: 18 },
      svg('title', { text: `${session.date}: ${session.open} – ${session.close}` })));
    if (session.break_start && session.break_end) {
      const a = x(Date.parse(session.break_start)), b = x(Date.parse(session.break_end));
      parts.push(svg('rect', { class: 'lunch', x: a, y: 2, width: b - a, height: 18 }, svg('title', { text: 'break' })));
    }
  }
  parts.push(svg('line', { class: 'now', x1: x(now), x2: x(now), y1: 0, y2: 24 }));
  replace(element, parts);
}

async function explain(mic, date) {
  const panel = document.getElementById('explain');
  try {
    const answer = await api(`/calendars/${encodeURIComponent(mic)}/explain?date=${date}`);
    const rows = [
      ['Day', answer.day], ['Name', answer.name], ['Kind', answer.kind], ['Rule', answer.rule],
      ['Certainty', answer.certainty], ['Source', answer.source], ['Observed from', answer.observed_from],
      ['Regular hours', answer.regular_hours || answer.hours],
      ['Session (UTC)', answer.session ? `${answer.session.open} – ${answer.session.close}` : 'none'],
      ['Plugin', `version ${answer.version}, generation ${answer.generation}`],
    ].filter(([, value]) => value !== undefined && value !== null);
    replace(panel, h('h3', { text: `${mic} ${date}` }),
      h('table', {}, h('tbody', {}, rows.map(([name, value]) => h('tr', {}, h('th', { text: name }), h('td', { text: value }))))));
    panel.hidden = false;
  } catch (error) {
    notice(`explain: ${error.message}`, true);
  }
}

let lastMarketRefresh = 0;
function tick() {
  const now = Date.now();
  document.getElementById('clock-utc').textContent = `${timeIn('UTC', now)} UTC`;
  let transitionPassed = false;
  for (const clock of document.querySelectorAll('.local-clock')) clock.textContent = timeIn(clock.dataset.zone, now);
  for (const countdown of document.querySelectorAll('.countdown')) {
    const until = Date.parse(countdown.dataset.until);
    const verb = { open: 'closes', break: 'reopens', closed: 'opens' }[countdown.dataset.state] || 'changes';
    if (Number.isNaN(until)) {
      countdown.textContent = 'no next session known';
    } else {
      const left = (until - now) / 1000;
      if (left <= 0) transitionPassed = true;
      countdown.textContent = `${verb} in ${duration(Math.max(0, left))}`;
    }
  }
  // Redraw the timelines each minute (now moves along them).
  if (now - (tick.drawn || 0) > 60_000 || tick.drawnFor !== marketsFetchedAt) {
    for (const market of markets) {
      const element = document.querySelector(`svg.timeline[data-mic="${market.calendar.mic}"]`);
      if (element) drawTimeline(element, market.sessions, now);
    }
    tick.drawn = now;
    tick.drawnFor = marketsFetchedAt;
  }
  // A market changed state: ask the server again (not more than every 5 s).
  if (transitionPassed && currentPage === 'markets' && now - lastMarketRefresh > 5000) {
    lastMarketRefresh = now;
    refresh('markets');
  }
}

// ---- Loads -----------------------------------------------------------------------------

let samples = [];
let selectedLoad = null;

refreshers.loads = async () => {
  if (calendars.length === 0) await fetchCalendars();
  const [loads, queue, dead] = await Promise.all([
    api('/loads?limit=20'), api('/jobs'), api('/jobs/dead'),
  ]);
  replace(document.querySelector('#loads-table tbody'),
    loads.loads.length === 0 ? h('tr', {}, h('td', { colspan: 7, class: 'empty', text: 'No loads yet: start one below.' })) : null,
    loads.loads.map(loadRow));
  if (selectedLoad) {
    // The list carries counts; one load's record carries its dead jobs and reasons.
    const selected = await api(`/loads/${encodeURIComponent(selectedLoad)}`).catch(() => null);
    if (selected) showLoad(selected);
  }
  replace(document.querySelector('#queue-table tbody'), queue.tiers.map((tier) => h('tr', {},
    h('td', { text: tier.tier }), h('td', { text: number(tier.queued) }),
    h('td', { text: number(tier.in_flight) }), h('td', { text: number(tier.dead) }))));
  const letters = dead.dead_letters || [];
  document.getElementById('retry-dead').disabled = letters.length === 0;
  replace('dead-letters',
    letters.length === 0 ? h('li', { class: 'empty', text: 'No dead letters.' }) : null,
    letters.map((letter) => h('li', { class: 'dead', 'data-id': letter.id },
      h('span', { class: 'badge dead', text: letter.tier }), ' ', h('code', { text: letter.id }),
      h('div', { class: 'reason', text: letter.reason }),
      h('div', { class: 'meta', text: `${letter.deliveries} deliveries · ${letter.consumer}` }))));
  drawChart();
};

function progressOf(load) {
  const total = load.total || {};
  if (load.state === 'done') return 1;
  return total.jobs ? (total.done + total.dead) / total.jobs : 0;
}

function loadRow(load) {
  const total = load.total || {};
  const share = progressOf(load);
  const percent = Math.floor(share * 100);
  return h('tr', {
    class: `clickable load${load.id === selectedLoad ? ' selected' : ''}`, 'data-id': load.id, 'data-state': load.state,
    onclick: () => { selectedLoad = load.id; refresh('loads'); },
  },
  h('td', {}, h('code', { text: load.id })),
  h('td', {}, h('span', { class: `badge ${load.state}`, text: load.state })),
  h('td', { text: new Date(load.created_at).toLocaleString() }),
  h('td', {}, progressBar(share, `${percent}% · ${total.done} of ${total.jobs} jobs${total.dead ? ` · ${total.dead} dead` : ''}`, load.state)),
  h('td', { text: number(total.rows_written) }),
  h('td', { text: number(Math.round(load.rows_per_second || 0)) }),
  h('td', { text: load.eta_seconds == null ? (load.finished_at ? 'finished' : '–') : duration(load.eta_seconds) }));
}

function progressBar(share, label, state) {
  const bar = h('div', { class: `bar${state === 'failed' ? ' failed' : ''}` });
  bar.style.width = `${Math.round(share * 100)}%`;
  return h('div', { class: 'progress', title: label }, bar, h('span', { class: 'label', text: label }));
}

function showLoad(load) {
  const tiers = Object.entries(load.tiers || {});
  replace('load-detail',
    h('h3', {}, 'Load ', h('code', { text: load.id }), ' ', h('span', { class: `badge ${load.state}`, text: load.state })),
    load.error ? h('p', { class: 'error-text', text: load.error }) : null,
    h('table', {},
      h('thead', {}, h('tr', {}, ['Tier', 'Jobs', 'Queued', 'Done', 'Dead', 'Retries', 'Rows'].map((name) => h('th', { text: name })))),
      h('tbody', {}, [...tiers, ['total', load.total]].map(([tier, counts]) => h('tr', {},
        h('td', { text: tier }), h('td', { text: number(counts.jobs) }), h('td', { text: number(counts.queued) }),
        h('td', { text: number(counts.done) }), h('td', { text: number(counts.dead) }),
        h('td', { text: number(counts.retries) }), h('td', { text: number(counts.rows_written) }))))),
    (load.dead_letters || []).length === 0 ? null : h('div', {},
      h('h3', { text: 'Dead jobs of this load' }),
      h('ul', { class: 'list' }, load.dead_letters.map((job) => h('li', {},
        h('code', { text: job.job_id }), h('div', { class: 'reason', text: job.reason }))))));
  document.getElementById('load-detail').hidden = false;
}

function drawChart() {
  const chart = document.getElementById('rate-chart');
  const width = 600, height = 160, left = 48, bottom = 18;
  const now = Date.now(), start = now - 600_000;
  const points = samples.filter((sample) => sample.at_ms >= start);
  const peak = Math.max(1, ...points.map((sample) => sample.rows_per_second));
  const x = (ms) => left + ((ms - start) / 600_000) * (width - left - 4);
  const y = (value) => height - bottom - (value / peak) * (height - bottom - 8);
  replace(chart,
    svg('line', { class: 'axis', x1: left, x2: width, y1: height - bottom, y2: height - bottom }),
    svg('text', { x: 2, y: 14, text: number(Math.round(peak)) }),
    svg('text', { x: 2, y: height - bottom, text: '0' }),
    svg('text', { x: left, y: height - 4, text: '−10 min' }),
    svg('text', { x: width - 30, y: height - 4, text: 'now' }),
    points.length === 0 ? svg('text', { x: left + 10, y: 60, text: 'no rows written in the last 10 minutes' }) : null,
    points.length > 0 ? svg('polyline', {
      class: 'line', points: points.map((sample) => `${x(sample.at_ms).toFixed(1)},${y(sample.rows_per_second).toFixed(1)}`).join(' '),
    }) : null);
}

document.getElementById('retry-dead').addEventListener('click', async () => {
  try {
    const answer = await act('/jobs/retry-dead');
    notice(`${answer.queued_again} dead letter(s) queued again.`);
    refresh('loads');
  } catch { /* shown by act */ }
});

document.getElementById('load-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const text = String(form.get('symbols') || '').trim();
  const spec = {
    symbols: /^\d+$/.test(text) ? Number(text) : text.split(/[\s;]+/).filter(Boolean),
    exchange: form.get('exchange') || undefined,
    timeframe: form.get('timeframe') || undefined,
    tier: form.get('tier') || undefined,
  };
  for (const name of ['from', 'to', 'policy']) if (form.get(name)) spec[name] = String(form.get(name));
  if (form.get('years')) spec.years = Number(form.get('years'));
  try {
    const load = await act('/loads', spec);
    selectedLoad = load.id;
    notice(`Load ${load.id} accepted.`);
    refresh('loads');
  } catch { /* shown by act */ }
});

// ---- Plugins ---------------------------------------------------------------------------

refreshers.plugins = async () => {
  const [plugins, swaps] = await Promise.all([api('/plugins'), api('/plugins/swaps')]);
  replace(document.querySelector('#plugins-table tbody'), plugins.plugins.map(pluginRow));
  replace('refused',
    plugins.failures.length === 0 ? h('li', { class: 'empty', text: 'No refused files.' }) : null,
    plugins.failures.map((failure) => h('li', { class: 'refused' },
      h('code', { text: failure.origin }), ' ', h('span', { class: 'meta', text: new Date(failure.at).toLocaleString() }),
      h('div', { class: 'reason', text: failure.message }))));
  replace('swaps',
    swaps.swaps.length === 0 ? h('li', { class: 'empty', text: 'No swaps since the server started.' }) : null,
    swaps.swaps.map(swapItem));
};

function pluginRow(entry) {
  const plugin = `${entry.kind}/${entry.name}`;
  const lastError = entry.calls?.last_error;
  return h('tr', { class: 'plugin', 'data-plugin': plugin },
    h('td', {}, h('strong', { text: plugin }), h('div', { class: 'meta', text: entry.description })),
    h('td', { class: 'generation', text: entry.generation }),
    h('td', { class: 'version', text: entry.version }),
    h('td', {}, h('code', { title: entry.sha256, text: shortSha(entry.sha256) })),
    h('td', { text: new Date(entry.loaded_at).toLocaleString() }),
    h('td', { class: 'source', text: entry.builtin ? 'built-in' : entry.source }),
    h('td', { text: number(entry.calls?.calls) }),
    h('td', { text: number(entry.calls?.errors) }),
    h('td', { class: 'error-text', text: lastError ? `${lastError.function}: ${lastError.message}` : (entry.last_error?.message || '') }),
    h('td', {}, entry.builtin ? null : h('button', {
      type: 'button', class: 'action rollback', text: 'Roll back to built-in',
      onclick: async () => {
        try {
          await act(`/plugins/${encodeURIComponent(entry.kind)}/${encodeURIComponent(entry.name)}/rollback`);
          notice(`${plugin}: rolled back to the built-in; the file was set aside as .rolled-back.`);
          refresh('plugins');
        } catch { /* shown by act */ }
      },
    })));
}

function swapItem(swap) {
  const side = (generation) => generation
    ? `generation ${generation.generation} (${generation.version}, ${shortSha(generation.sha256)})` : 'nothing';
  const changes = swap.changes || [];
  return h('li', { class: 'swap', 'data-plugin': swap.plugin, 'data-action': swap.action },
    h('strong', { text: swap.plugin }), ' ', h('span', { class: 'badge', text: swap.action }), ' ',
    h('span', { class: 'meta', text: new Date(swap.at).toLocaleString() }),
    h('div', { text: `${side(swap.from)} → ${side(swap.to)}` }),
    h('div', { class: 'meta', text: swap.file }),
    swap.changed_dates == null ? null : h('div', { class: 'diff-summary',
      text: swap.changed_dates === 0 ? 'no special day changes in the next 24 months'
        : `${swap.changed_dates} special day change${swap.changed_dates === 1 ? '' : 's'} in the next 24 months` }),
    changes.length === 0 ? null : h('ul', { class: 'changes' }, changes.map((change) => h('li', { class: change.change },
      change.change === 'added' ? `+ ${change.date} ${change.after.name} (${change.after.kind})`
        : change.change === 'removed' ? `− ${change.date} ${change.before.name} (${change.before.kind})`
          : `~ ${change.date} ${change.before.name} (${change.before.kind}) → ${change.after.name} (${change.after.kind})`))));
}

document.getElementById('reload-plugins').addEventListener('click', async () => {
  try {
    const answer = await act('/plugins/reload');
    notice(`Folder reloaded: ${answer.outcomes.length} file(s) checked.`);
    refresh('plugins');
  } catch { /* shown by act */ }
});

// ---- Datasets --------------------------------------------------------------------------

refreshers.datasets = async () => {
  if (calendars.length === 0) await fetchCalendars();
  const form = new FormData(document.getElementById('coverage-form'));
  const query = new URLSearchParams({
    exchange: form.get('exchange') || 'XNYS', timeframe: form.get('timeframe') || '1d', months: form.get('months') || '12',
  });
  const coverage = await api(`/datasets/coverage?${query}`);
  if (coverage.symbols.length === 0) {
    replace('coverage', h('p', { class: 'empty', text: `No ${coverage.timeframe} bars of ${coverage.exchange} stored yet.` }));
    return;
  }
  replace('coverage', h('table', { class: 'coverage' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Symbol' }), coverage.months.map((month) => h('th', { text: month.slice(2) })))),
    h('tbody', {}, coverage.symbols.map((row) => h('tr', { 'data-symbol': row.symbol },
      h('td', { class: 'symbol', text: row.symbol, onclick: () => showGaps(coverage, row.symbol) }),
      row.stored.map((stored, index) => {
        const expected = coverage.expected[index];
        const fill = h('div');
        // Nothing stored is blank; anything stored shows, however little.
        fill.style.opacity = expected && stored ? String(Math.max(0.1, stored / expected)) : '0';
        return h('td', { class: 'cell', title: `${row.symbol} ${coverage.months[index]}: ${stored} of ${expected} sessions stored and final` }, fill);
      }))))),
  coverage.next_after ? h('p', { class: 'hint', text: `Showing the first ${coverage.symbols.length} symbols.` }) : null);
};

async function showGaps(coverage, symbol) {
  const form = new FormData(document.getElementById('coverage-form'));
  const query = new URLSearchParams({
    exchange: coverage.exchange, symbol, timeframe: coverage.timeframe, months: form.get('months') || '12',
  });
  const answer = await api(`/datasets/gaps?${query}`);
  replace('gaps', h('h3', { text: `${symbol} · ${answer.exchange} ${answer.timeframe}: ${answer.gaps.length} gap(s) over ${answer.sessions} sessions from ${answer.from} to ${answer.to}` }),
    h('ul', { class: 'list' }, answer.gaps.length === 0 ? h('li', { text: 'Complete: every expected session is stored and final.' }) : null,
      answer.gaps.map((gap) => h('li', { class: 'gap', text: `${gap.first_session} – ${gap.last_session}: ${gap.session_count} session(s) missing` }))));
  document.getElementById('gaps').hidden = false;
}

document.getElementById('coverage-form').addEventListener('submit', (event) => {
  event.preventDefault();
  refresh('datasets');
});

// ---- live updates ----------------------------------------------------------------------

function listen() {
  const live = document.getElementById('live');
  const events = new EventSource('/events');
  events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  events.addEventListener('error', () => { live.textContent = 'reconnecting'; live.className = 'live off'; });
  events.addEventListener('hello', (event) => {
    samples = JSON.parse(event.data).samples || [];
    refresh(currentPage);
  });
  events.addEventListener('plugins', () => {
    if (currentPage === 'plugins') refresh('plugins');
    if (currentPage === 'markets') refresh('markets');
  });
  events.addEventListener('loads', (event) => {
    const data = JSON.parse(event.data);
    if (data.sample && (samples.length === 0 || samples[samples.length - 1].at_ms !== data.sample.at_ms)) {
      samples.push(data.sample);
      samples = samples.slice(-120);
    }
    if (currentPage === 'loads') refresh('loads');
    if (currentPage === 'datasets') refresh('datasets');
  });
}

window.addEventListener('hashchange', showPage);
showTokenState();
showPage();
listen();
setInterval(tick, 1000);

// Peer benchmark: the drain `tickstock bench queue --drain N` times, done by BullMQ on the
// same Redis: N jobs whose data is as long as one of tickstock's job payloads are added in
// bulk (not timed), then one Worker with concurrency 1 takes them and completes each with
// an empty processor. Jobs are removed on completion, as tickstock deletes an acked entry.
// The clock starts once the worker's connections are up (tickstock's consumer is connected
// before its drain starts too) and stops at the N-th "completed" event.
//
// Prints one JSON object. Run through ../run.sh queue, which installs the pinned BullMQ
// into a throwaway folder and runs tickstock's drain beside this one.
//
//   node drain.mjs --redis redis://127.0.0.1:6379 --jobs 10000 --payload-bytes 216

import { createRequire } from "node:module";
import { Queue, Worker } from "bullmq";

const require = createRequire(import.meta.url);

function parseArgs(argv) {
  const options = { redis: "redis://127.0.0.1:6379", jobs: 10000, payloadBytes: 216 };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--redis") options.redis = value;
    else if (flag === "--jobs") options.jobs = Number(value);
    else if (flag === "--payload-bytes") options.payloadBytes = Number(value);
    else throw new Error(`unknown flag ${flag}; use --redis URL, --jobs N, --payload-bytes N`);
  }
  if (!Number.isInteger(options.jobs) || options.jobs < 1 || options.jobs > 10_000_000) {
    throw new Error(`--jobs must be 1..10000000, not ${options.jobs}`);
  }
  if (!Number.isInteger(options.payloadBytes) || options.payloadBytes < 16 || options.payloadBytes > 1_000_000) {
    throw new Error(`--payload-bytes must be 16..1000000, not ${options.payloadBytes}`);
  }
  return options;
}

function connectionOf(url) {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:") throw new Error(`only redis:// URLs, not ${parsed.protocol}`);
  return {
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.slice(1) || 0),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    // BullMQ's workers require it: their blocking commands must not be retried.
    maxRetriesPerRequest: null,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const connection = connectionOf(options.redis);
  // A prefix of our own, removed at the end, so nothing else on the server is touched.
  const prefix = `tickstock-bench-bullmq:${process.pid}-${Date.now()}`;
  const name = "drain";
  const queue = new Queue(name, { connection, prefix });

  // Job data whose JSON is exactly `payloadBytes` long, like one tickstock payload.
  const envelope = JSON.stringify({ payload: "" }).length;
  const data = { payload: "x".repeat(Math.max(0, options.payloadBytes - envelope)) };
  const jobOptions = { removeOnComplete: true, removeOnFail: true };
  for (let start = 0; start < options.jobs; start += 1000) {
    const count = Math.min(1000, options.jobs - start);
    await queue.addBulk(Array.from({ length: count }, () => ({ name, data, opts: jobOptions })));
  }

  let completed = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const worker = new Worker(name, async () => {}, { connection, prefix, concurrency: 1, autorun: false });
  worker.on("completed", () => {
    completed += 1;
    if (completed === options.jobs) finish();
  });
  worker.on("error", (error) => console.error(`worker error: ${error}`));
  await worker.waitUntilReady();
  const started = process.hrtime.bigint();
  worker.run();
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  console.log(
    JSON.stringify({
      peer: "bullmq",
      version: require("bullmq/package.json").version,
      jobs: options.jobs,
      payload_bytes: JSON.stringify(data).length,
      concurrency: 1,
      seconds,
      drain_jobs_per_second: options.jobs / seconds,
    }),
  );
}

main().catch((error) => {
  console.error(`bullmq drain: ${error?.stack ?? error}`);
  process.exit(1);
});

//! `tickstock calendar` as scripts use it: the exact CSV contract, and one-line errors with
//! a non-zero exit for every kind of bad input.

use crate::support::tickstock;

fn run(args: &[&str]) -> (bool, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let output = tickstock(cache.path()).arg("calendar").args(args).output().expect("run tickstock");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn sessions_csv_is_byte_exact() {
    let cases: &[(&[&str], &str)] = &[
        // Thanksgiving week: the Thursday is closed, the Friday closes at 13:00 New York.
        (
            &["sessions", "XNYS", "--from", "2024-11-27", "--to", "2024-12-02"],
            "date,open,close,break_start,break_end\n\
             2024-11-27,2024-11-27T14:30:00Z,2024-11-27T21:00:00Z,,\n\
             2024-11-29,2024-11-29T14:30:00Z,2024-11-29T18:00:00Z,,\n\
             2024-12-02,2024-12-02T14:30:00Z,2024-12-02T21:00:00Z,,\n",
        ),
        // Tokyo: lunch break in the break columns, the substitute holiday of 2024-11-04,
        // and the close moving from 15:00 to 15:30 on 2024-11-05.
        (
            &["sessions", "XTKS", "--from", "2024-11-01", "--to", "2024-11-05", "--format", "csv"],
            "date,open,close,break_start,break_end\n\
             2024-11-01,2024-11-01T00:00:00Z,2024-11-01T06:00:00Z,2024-11-01T02:30:00Z,2024-11-01T03:30:00Z\n\
             2024-11-05,2024-11-05T00:00:00Z,2024-11-05T06:30:00Z,2024-11-05T02:30:00Z,2024-11-05T03:30:00Z\n",
        ),
    ];
    for (args, expected) in cases {
        let (ok, stdout, stderr) = run(args);
        assert!(ok, "{args:?}: {stderr}");
        assert_eq!(&stdout, expected, "{args:?}");
    }
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["sessions", "XXXX", "--from", "2024-01-01", "--to", "2024-01-02"],
            "known exchanges: XETR, XLON, XNAS, XNYS, XTKS, XTSE",
        ),
        (&["sessions", "XNYS", "--from", "2024-13-01", "--to", "2024-12-02"], "is not a date"),
        (&["sessions", "XNYS", "--from", "2024-12-02", "--to", "2024-12-01"], "is after"),
        (
            &["sessions", "XNYS", "--from", "2150-01-01", "--to", "2150-01-02"],
            "outside the calendar's range 2000..=2099",
        ),
        (&["holidays", "XNYS", "--year", "1999"], "outside the calendar's range"),
        (&["status", "XNYS", "--at", "nonsense"], "is not an instant"),
        (&["explain", "XLON", "2022-02-30"], "is not a date"),
    ];
    for (args, expected) in cases {
        let (ok, _, stderr) = run(args);
        assert!(!ok, "{args:?} succeeded");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(expected),
            "{args:?}: {:?} lacks {expected:?}",
            lines[0]
        );
    }
}

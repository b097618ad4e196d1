//! The console's import readers: the multipart upload splitter and the semicolon CSV parser.
//! Neither panics; an accepted file has at most the row limit, each row a non-negative amount;
//! a refused one names at least one problem, each on a line of the file (or the one after).

#![no_main]

use libfuzzer_sys::fuzz_target;
use voucherd_server::console::import_rows::{IMPORT_ROWS_MAX, parse};
use voucherd_server::console::upload::parts;

fuzz_target!(|data: &[u8]| {
    if let Some(parts) = parts(data, "----boundary") {
        for part in &parts {
            assert!(part.data.len() <= data.len());
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match parse(text) {
        Ok(rows) => {
            assert!(rows.len() <= IMPORT_ROWS_MAX);
            assert!(rows.len() < lines, "{} rows from {lines} lines", rows.len());
            for row in &rows {
                assert!(row.amount_minor >= 0, "{text:?}");
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            // A file of only a header "holds no vouchers" on the line after it.
            for problem in &problems {
                assert!(
                    (1..=lines + 1).contains(&problem.line),
                    "line {} of {lines}: {text:?}",
                    problem.line
                );
            }
        }
    }
});

//! Reading JTL's semicolon CSV for an import: every row is checked before anything is written,
//! and every problem is named by its line and column.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use voucherd_domain::{Currency, Validity, ValidityInterval, VoucherKind, VoucherStatus};
use voucherd_store::command::NewVoucher;

use super::csv::HEADER;
use crate::wire::parse_money;

/// The most vouchers one import may hold.
pub const IMPORT_ROWS_MAX: usize = 100_000;

/// A problem of one line of the file (line 1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: usize,
    pub column: String,
    pub problem: String,
}

/// One record of the file and the line it starts on (1-based).
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records of fields: `;` separates, `"` quotes (`""` is a quote),
/// quoted fields may hold separators and line breaks; unquoted fields are trimmed. Blank
/// lines are skipped; each record keeps the line it starts on.
fn records(text: &str) -> Vec<Record> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut line = 1;
    let mut starts = 1;
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    let finish = |field: &mut String, was_quoted: &mut bool| {
        let value = if *was_quoted {
            std::mem::take(field)
        } else {
            let trimmed = field.trim().to_string();
            field.clear();
            trimmed
        };
        *was_quoted = false;
        value
    };
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ';') => record.push(finish(&mut field, &mut was_quoted)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(finish(&mut field, &mut was_quoted));
                records.push(Record {
                    line: starts,
                    fields: std::mem::take(&mut record),
                });
                line += 1;
                starts = line;
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() || was_quoted {
        record.push(finish(&mut field, &mut was_quoted));
        records.push(Record {
            line: starts,
            fields: record,
        });
    }
    records
        .into_iter()
        .filter(|r| !(r.fields.len() == 1 && r.fields[0].is_empty()))
        .collect()
}

/// The vouchers of a file, or every problem in it.
pub fn parse(text: &str) -> Result<Vec<NewVoucher>, Vec<RowProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = records(text).into_iter();
    let expected: Vec<&str> = HEADER.split(';').collect();
    let problem = |line: usize, column: &str, problem: &str| RowProblem {
        line,
        column: column.to_string(),
        problem: problem.to_string(),
    };
    match rows.next() {
        Some(header)
            if header
                .fields
                .iter()
                .map(String::as_str)
                .eq(expected.iter().copied()) => {}
        _ => {
            return Err(vec![problem(
                1,
                "header",
                &format!("must be exactly: {HEADER}"),
            )]);
        }
    }
    let mut vouchers = Vec::new();
    let mut problems = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut codes = std::collections::HashSet::new();
    for (index, Record { line, fields }) in rows.enumerate() {
        if index >= IMPORT_ROWS_MAX {
            problems.push(problem(
                line,
                "file",
                &format!("holds more than {IMPORT_ROWS_MAX} vouchers"),
            ));
            break;
        }
        if fields.len() != expected.len() {
            problems.push(problem(
                line,
                "row",
                &format!("has {} columns, not {}", fields.len(), expected.len()),
            ));
            continue;
        }
        let before = problems.len();
        let mut fail = |column: &str, text: &str| problems.push(problem(line, column, text));
        let get = |column: &str| {
            let at = expected
                .iter()
                .position(|c| *c == column)
                .unwrap_or_default();
            Some(fields[at].clone()).filter(|v| !v.is_empty())
        };
        let text = |column: &str, max: usize, fail: &mut dyn FnMut(&str, &str)| {
            let value = get(column);
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                fail(column, &format!("must be at most {max} characters"));
            }
            value
        };
        let id = text("custom_id", 255, &mut fail);
        let code = text("code", 255, &mut fail);
        let pin = text("pin", 255, &mut fail);
        let batch = text("batch", 30, &mut fail);
        let sku = text("sku", 255, &mut fail);
        if code.is_none() {
            fail("code", "is required");
        }
        if let Some(id) = &id
            && !ids.insert(id.clone())
        {
            fail("custom_id", "appears twice in the file");
        }
        if let Some(code) = &code
            && !codes.insert(code.clone())
        {
            fail("code", "appears twice in the file");
        }
        let amount = get("amount").and_then(|a| parse_money(&a));
        if amount.is_none() {
            fail("amount", "must be an amount like 10.00");
        }
        let taxable = match get("taxable").as_deref() {
            Some("1") => Some(true),
            Some("0") | None => Some(false),
            Some(_) => {
                fail("taxable", "must be 1 or 0");
                None
            }
        };
        let tax_rate = get("tax_rate");
        match (taxable, &tax_rate) {
            (Some(true), None) => fail("tax_rate", "is required when taxable is 1"),
            (Some(false), Some(_)) => fail("tax_rate", "must be empty when taxable is 0"),
            (_, Some(rate)) if rate.parse::<f64>().is_err() || rate.len() > 10 => {
                fail("tax_rate", "must be a number like 19 or 7.5")
            }
            _ => {}
        }
        let currency = get("currency").and_then(|c| Currency::parse(&c).ok());
        if currency.is_none() {
            fail("currency", "must be an ISO 4217 code like EUR");
        }
        let status = VoucherStatus::parse(get("status").as_deref().unwrap_or("inactive"));
        if status.is_none() {
            fail("status", "must be active or inactive");
        }
        let kind = VoucherKind::parse(get("type").as_deref().unwrap_or("digital"));
        if kind.is_none() {
            fail("type", "must be digital or print");
        }
        let validity = match (get("validity_value"), get("validity_interval")) {
            (None, None) => Some(None),
            (Some(value), Some(interval)) => {
                match (
                    value.parse::<i64>().ok().filter(|v| (1..=1000).contains(v)),
                    ValidityInterval::parse(&interval),
                ) {
                    (Some(value), Some(interval)) => Some(Some(Validity { value, interval })),
                    _ => {
                        fail(
                            "validity_value",
                            "must be 1 to 1000 with an interval of days, weeks, months or years",
                        );
                        None
                    }
                }
            }
            _ => {
                fail(
                    "validity_value",
                    "and validity_interval must be given together",
                );
                None
            }
        };
        let valid_until = match get("valid_until") {
            None => Some(None),
            Some(text) => match OffsetDateTime::parse(&text, &Rfc3339) {
                Ok(at) if status == Some(VoucherStatus::Active) => Some(Some(at)),
                Ok(_) => {
                    fail("valid_until", "may only be set for active vouchers");
                    None
                }
                Err(_) => {
                    fail(
                        "valid_until",
                        "must be an RFC 3339 time like 2027-06-29T00:00:00+02:00",
                    );
                    None
                }
            },
        };
        if problems.len() > before {
            continue;
        }
        if let (
            Some(amount_minor),
            Some(currency),
            Some(status),
            Some(kind),
            Some(taxable),
            Some(validity),
            Some(valid_until),
        ) = (
            amount,
            currency,
            status,
            kind,
            taxable,
            validity,
            valid_until,
        ) {
            vouchers.push(NewVoucher {
                id,
                code,
                pin,
                sku,
                batch,
                amount_minor,
                currency,
                validity,
                status,
                kind,
                taxable,
                tax_rate,
                order_number: None,
                data: None,
                valid_until,
            });
        }
    }
    if vouchers.is_empty() && problems.is_empty() {
        problems.push(problem(2, "file", "holds no vouchers"));
    }
    if problems.is_empty() {
        Ok(vouchers)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "custom_id; code; pin; batch; amount; taxable; tax_rate; currency; status; type; validity_value; validity_interval; sku; valid_until";

    #[test]
    fn a_good_file_reads_every_row() {
        let file = format!(
            "{HEAD}\nV-1;CODE-1;1234;SPRING;10.00;0;;EUR;inactive;digital;2;years;SKU-1;\n\
             ;\"CODE;2\";;;25.50;1;19;EUR;active;print;;;;2027-06-29T00:00:00+02:00\r\n"
        );
        let rows = parse(&file).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id.as_deref(), Some("V-1"));
        assert_eq!(rows[0].validity.map(|v| v.value), Some(2));
        assert_eq!(rows[1].code.as_deref(), Some("CODE;2"));
        assert_eq!(rows[1].amount_minor, 2550);
        assert!(rows[1].taxable && rows[1].valid_until.is_some());
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let file = format!(
            "{HEAD}\nV-1;CODE-1;;;10.00;0;;EUR;inactive;digital;;;;\n\
             V-2;CODE-1;;;10;2;;EURO;lost;digital;3;;;\n\
             V-3;;;;1.00;0;;EUR;inactive;digital;;;;x\n"
        );
        let problems = parse(&file).expect_err("invalid");
        let named: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (3, "code"),
                (3, "amount"),
                (3, "taxable"),
                (3, "currency"),
                (3, "status"),
                (3, "validity_value"),
                (4, "code"),
                (4, "valid_until"),
            ]
        );
        assert_eq!(parse("a;b\n1;2\n").expect_err("header")[0].column, "header");
        assert_eq!(
            parse(&format!("{HEAD}\n")).expect_err("empty")[0].problem,
            "holds no vouchers"
        );
    }

    #[test]
    fn problems_are_named_by_the_line_of_the_file_after_blank_lines_and_quoted_breaks() {
        let file = format!(
            "{HEAD}\n\nV-1;CODE-1;;;10.00;0;;EUR;inactive;digital;;;;\n\
             V-2;\"CODE\n2\";;;10.00;0;;EUR;inactive;digital;;;;\n\
             V-3;CODE-3;;;ten;0;;EUR;inactive;digital;;;;\n"
        );
        let problems = parse(&file).expect_err("invalid");
        let named: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(named, [(6, "amount")], "{problems:?}");
    }
}

//! Reading a lead import file (CSV or XLSX) into one shape, [`Table`]: the header names and the
//! non-blank data rows with their line (CSV) or spreadsheet row (XLSX) number. Validation and
//! inserts happen once, on the table, in the upload handler.
//!
//! Limits, so that a small upload cannot exhaust memory (the request body itself is capped at
//! `UPLOAD_LIMIT`, 10 MiB):
//! - at most [`MAX_ROWS`] non-blank data rows, CSV or XLSX;
//! - an XLSX may unpack to at most [`MAX_UNPACKED`] bytes (the sum of its entries' declared
//!   sizes; zip refuses an entry that inflates past its declared size) and hold at most
//!   [`MAX_ENTRIES`] entries and [`MAX_SHARED_STRINGS`] shared strings.
//!
//! calamine has no limits of its own: `worksheet_range` allocates the whole bounding box of the
//! used cells (two cells `A1` and `XFD1048576` would be 17 billion cells) and the shared-string
//! table reserves the count the file declares. So the sheet is streamed cell by cell
//! (`worksheet_cells_reader`), keeping only the columns named by lead fields, and the archive is
//! checked before calamine opens it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, Cursor, Read};

use calamine::{DataRef, Reader, SheetType, Xlsx};
use chrono::NaiveDate;

use super::dto;

/// Data rows one file may hold.
pub const MAX_ROWS: usize = 100_000;
/// Bytes an XLSX may unpack to (all its entries together).
pub const MAX_UNPACKED: u64 = 100 * 1024 * 1024;
/// Entries in an XLSX archive (a workbook has a few dozen).
pub const MAX_ENTRIES: usize = 10_000;
/// Strings in an XLSX shared-string table (calamine keeps them all in memory).
pub const MAX_SHARED_STRINGS: u64 = 2_000_000;

pub const INVALID_XLSX: &str = "Not a valid XLSX file";
pub const INVALID_CSV: &str = "Not a valid CSV file";
const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An import file, whatever its format.
#[derive(Debug, Default, PartialEq)]
pub struct Table {
    /// Column names, lower-cased.
    pub headers: Vec<String>,
    /// Non-blank data rows: the line (CSV) or row (XLSX) number, the header being 1 (or the
    /// first non-blank row of a sheet), and the cells by header position; `""` is absent.
    pub rows: Vec<(usize, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// XLSX when the content is a zip (`PK\x03\x04`), or when the upload says so by name or content
/// type (then a non-zip body is reported as an invalid XLSX, not parsed as CSV); CSV otherwise.
pub fn detect(data: &[u8], file_name: Option<&str>, content_type: Option<&str>) -> Format {
    let named = file_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".xlsx"));
    let typed = content_type.is_some_and(|c| c.trim().eq_ignore_ascii_case(XLSX_MIME));
    if data.starts_with(b"PK\x03\x04") || named || typed {
        Format::Xlsx
    } else {
        Format::Csv
    }
}

/// Reads `data`; the error is the message for `leads_file`. CPU-bound: run it off the runtime.
pub fn read(data: &[u8], format: Format) -> Result<Table, String> {
    match format {
        Format::Csv => read_csv(data),
        Format::Xlsx => read_xlsx(data),
    }
}

fn too_many_rows() -> String {
    format!("Too many rows: a file may hold at most {MAX_ROWS} leads.")
}

/// UTF-8, else ISO-8859-1; fields trimmed; rows of different lengths accepted.
fn read_csv(data: &[u8]) -> Result<Table, String> {
    let text = match std::str::from_utf8(data) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => data.iter().map(|&b| b as char).collect::<String>().into(), // ISO-8859-1
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| INVALID_CSV.to_string())?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|_| INVALID_CSV.to_string())?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(too_many_rows());
        }
        // The reader's position is where it started reading: before the blank lines it skipped.
        let line = record.position().map_or(0, |p| {
            let skipped = text.as_bytes().get(p.byte() as usize..).map_or(0, |rest| {
                rest.iter()
                    .take_while(|b| matches!(b, b'\r' | b'\n'))
                    .filter(|&&b| b == b'\n')
                    .count()
            });
            p.line() as usize + skipped
        });
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(Table { headers, rows })
}

/// The first worksheet. Its first non-blank row is the header; only the columns named by lead
/// fields are kept (a name repeated: the later cell wins, as in CSV); rows are numbered as in
/// the spreadsheet.
fn read_xlsx(data: &[u8]) -> Result<Table, String> {
    check_archive(data)?;
    let invalid = |_| INVALID_XLSX.to_string();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(data)).map_err(invalid)?;
    let sheet = book
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| INVALID_XLSX.to_string())?;
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(invalid)?;

    let known: HashSet<&str> = dto::field_names().collect();
    let mut header_row: Option<u32> = None;
    let mut header_cells: BTreeMap<u32, String> = BTreeMap::new();
    // Column -> position in `headers`, fixed once the header row is complete.
    let mut slots: Option<(Vec<String>, HashMap<u32, usize>)> = None;
    let mut rows: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(invalid)? {
        let Some(text) = cell_text(cell.get_value()) else {
            continue;
        };
        let (row, col) = cell.get_position();
        let header = *header_row.get_or_insert(row);
        if row <= header {
            // Cells are in row order; one above or beside a header already used is ignored.
            if row == header && slots.is_none() {
                header_cells.insert(col, text.to_lowercase());
            }
            continue;
        }
        let (headers, by_col) = slots.get_or_insert_with(|| header_slots(&header_cells, &known));
        if !rows.contains_key(&row) && rows.len() == MAX_ROWS {
            return Err(too_many_rows());
        }
        let cells = rows
            .entry(row)
            .or_insert_with(|| vec![String::new(); headers.len()]);
        if let Some(&i) = by_col.get(&col) {
            cells[i] = text;
        }
    }
    if header_row.is_none() {
        return Err(INVALID_XLSX.to_string()); // an empty sheet
    }
    let (headers, _) = slots.unwrap_or_else(|| header_slots(&header_cells, &known));
    Ok(Table {
        headers,
        rows: rows
            .into_iter()
            .map(|(row, cells)| (row as usize + 1, cells))
            .collect(),
    })
}

/// The lead-field columns of the header row: one slot per distinct name, in column order.
fn header_slots(
    header_cells: &BTreeMap<u32, String>,
    known: &HashSet<&str>,
) -> (Vec<String>, HashMap<u32, usize>) {
    let mut headers: Vec<String> = Vec::new();
    let mut by_col = HashMap::new();
    for (&col, name) in header_cells {
        if !known.contains(name.as_str()) {
            continue;
        }
        let i = match headers.iter().position(|h| h == name) {
            Some(i) => i,
            None => {
                headers.push(name.clone());
                headers.len() - 1
            }
        };
        by_col.insert(col, i);
    }
    (headers, by_col)
}

/// A cell as import text: strings trimmed, integral numbers without `.0`, booleans
/// `true`/`false`, dates `YYYY-MM-DD`, errors as Excel shows them (`#N/A`). `None` when empty.
fn cell_text(v: &DataRef<'_>) -> Option<String> {
    let s = match v {
        DataRef::Empty => return None,
        DataRef::String(s) => s.trim().to_string(),
        DataRef::SharedString(s) => s.trim().to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        DataRef::DateTime(dt) => number_text(dt.as_f64()), // a duration
        DataRef::DateTimeIso(s) => {
            let s = s.trim();
            match s.get(..10) {
                Some(day) if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() => day.to_string(),
                _ => s.to_string(),
            }
        }
        DataRef::DurationIso(s) => s.trim().to_string(),
        DataRef::Error(e) => e.to_string(),
    };
    (!s.is_empty()).then_some(s)
}

fn number_text(f: f64) -> String {
    // Integral and exactly representable: as an integer (20.0 -> "20", -0.0 -> "0").
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        (f as i64).to_string()
    } else {
        f.to_string()
    }
}

/// Refuses, before calamine reads anything, an archive that would unpack past the limits.
fn check_archive(data: &[u8]) -> Result<(), String> {
    let invalid = |_| INVALID_XLSX.to_string();
    let mut zip = zip::ZipArchive::new(Cursor::new(data)).map_err(invalid)?;
    if zip.len() > MAX_ENTRIES {
        return Err(format!(
            "The XLSX file has too many parts (at most {MAX_ENTRIES})."
        ));
    }
    let mut unpacked: u64 = 0;
    let mut shared_strings = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_data(i).map_err(invalid)?;
        unpacked = unpacked.saturating_add(entry.size());
        if entry
            .name_raw()
            .to_ascii_lowercase()
            .ends_with(b"sharedstrings.xml")
        {
            shared_strings.push(i);
        }
    }
    if unpacked > MAX_UNPACKED {
        return Err(format!(
            "The XLSX file is too large uncompressed (at most {} MiB).",
            MAX_UNPACKED / 1024 / 1024
        ));
    }
    for i in shared_strings {
        let part = zip.by_index(i).map_err(invalid)?;
        if shared_string_count(part).map_err(|_| INVALID_XLSX.to_string())? > MAX_SHARED_STRINGS {
            return Err(format!(
                "The XLSX file has too many distinct texts (at most {MAX_SHARED_STRINGS})."
            ));
        }
    }
    Ok(())
}

/// The larger of a shared-string part's declared `uniqueCount` (calamine reserves that many
/// strings up front) and its `<si>` elements, read with the parser and settings calamine uses.
fn shared_string_count(part: impl Read) -> Result<u64, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut declared = 0u64;
    let mut elements = 0u64;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf)? {
            Event::Start(e) if e.local_name().as_ref() == "sst" => {
                for attr in e.attributes() {
                    let attr = attr?;
                    if attr.key.as_ref() == "uniqueCount" {
                        declared = declared.max(leading_number(attr.value.as_bytes()));
                    }
                }
            }
            Event::Start(e) if e.local_name().as_ref() == "si" => elements += 1,
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(declared.max(elements))
}

/// The number a raw attribute value starts with (leading zeros skipped), saturating; 0 if none.
fn leading_number(raw: &[u8]) -> u64 {
    raw.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| {
            n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{ExcelDateTime, ExcelDateTimeType};

    #[test]
    fn cells() {
        assert_eq!(cell_text(&DataRef::Float(20.0)).as_deref(), Some("20"));
        assert_eq!(cell_text(&DataRef::Float(-0.0)).as_deref(), Some("0"));
        assert_eq!(cell_text(&DataRef::Float(12.5)).as_deref(), Some("12.5"));
        assert_eq!(cell_text(&DataRef::Float(0.1)).as_deref(), Some("0.1"));
        assert_eq!(cell_text(&DataRef::Int(-3)).as_deref(), Some("-3"));
        assert_eq!(cell_text(&DataRef::Bool(true)).as_deref(), Some("true"));
        assert_eq!(
            cell_text(&DataRef::SharedString("  Ann ")).as_deref(),
            Some("Ann")
        );
        assert_eq!(cell_text(&DataRef::String("   ".into())), None);
        assert_eq!(cell_text(&DataRef::Empty), None);
        // 45943.541 is 2025-10-13 12:59:02 in the 1900 system.
        let dt = ExcelDateTime::new(45943.541, ExcelDateTimeType::DateTime, false);
        assert_eq!(
            cell_text(&DataRef::DateTime(dt)).as_deref(),
            Some("2025-10-13")
        );
        let dt = ExcelDateTime::new(44481.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(
            cell_text(&DataRef::DateTime(dt)).as_deref(),
            Some("2025-10-13")
        );
        assert_eq!(
            cell_text(&DataRef::DateTimeIso("2026-01-31T10:00:00".into())).as_deref(),
            Some("2026-01-31")
        );
        assert_eq!(
            cell_text(&DataRef::Error(calamine::CellErrorType::NA)).as_deref(),
            Some("#N/A")
        );
    }

    #[test]
    fn detection() {
        assert_eq!(detect(b"PK\x03\x04rest", None, None), Format::Xlsx);
        assert_eq!(detect(b"title\nx\n", Some("a.XLSX"), None), Format::Xlsx);
        assert_eq!(detect(b"title\nx\n", None, Some(XLSX_MIME)), Format::Xlsx);
        assert_eq!(
            detect(b"title\nx\n", Some("a.csv"), Some("text/csv")),
            Format::Csv
        );
    }

    #[test]
    fn shared_string_counts() {
        let count = |xml: &str| shared_string_count(xml.as_bytes()).unwrap();
        assert_eq!(
            count(
                r#"<?xml version="1.0"?><sst count="9" uniqueCount="2"><si><t>a</t></si><si/></sst>"#
            ),
            2
        );
        assert_eq!(
            count(r#"<!-- " --><x:sst uniqueCount='0099999999999'><x:si/></x:sst>"#),
            99_999_999_999
        );
        assert_eq!(count(r#"<sst uniqueCount="1"><si/><si/><si/></sst>"#), 3);
        assert_eq!(leading_number(b"99999999999999999999999"), u64::MAX);
        assert_eq!(leading_number(b"x1"), 0);
    }

    #[test]
    fn csv_rows_are_numbered_by_line() {
        let t = read(b"Title,Email\n\na,b\n , \nc\n", Format::Csv).unwrap();
        assert_eq!(t.headers, ["title", "email"]);
        assert_eq!(
            t.rows,
            [(3, vec!["a".into(), "b".into()]), (5, vec!["c".into()])]
        );
        let t = read(b"title\r\n\r\n\r\na\r\n\r\nb", Format::Csv).unwrap();
        assert_eq!(t.rows, [(4, vec!["a".into()]), (6, vec!["b".into()])]);
    }

    #[test]
    fn not_xlsx() {
        assert_eq!(
            read(b"PK\x03\x04garbage", Format::Xlsx),
            Err(INVALID_XLSX.to_string())
        );
        assert_eq!(read(b"", Format::Xlsx), Err(INVALID_XLSX.to_string()));
    }
}

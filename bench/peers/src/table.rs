//! A table of strings, printed either as aligned text for the terminal or as a
//! Markdown table for the results page. The first column is aligned left, the others
//! right (they hold numbers).

/// Rows of cells under a header.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(header: Vec<String>) -> Self {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row, padded or cut to the header's width.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Aligned text, columns two spaces apart, with a rule under the header.
    pub fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|row| row[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String]| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| {
                    if c == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        out.push_str(&rule.join("  "));
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let escape = |cell: &String| cell.replace('|', "\\|");
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(escape).collect();
            format!("| {} |", cells.join(" | "))
        };
        let mut out = row(&self.header);
        out.push('\n');
        let align: Vec<&str> = (0..self.header.len())
            .map(|c| if c == 0 { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("|{}|", align.join("|")));
        for cells in &self.rows {
            out.push('\n');
            out.push_str(&row(cells));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec!["workload".into(), "a".into(), "b|c".into()]);
        t.push(vec!["fillseq".into(), "1,000".into(), "2.00×".into()]);
        t.push(vec!["x".into()]);
        t
    }

    #[test]
    fn text_is_aligned() {
        let text = sample().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "workload      a    b|c");
        assert_eq!(lines[1], "--------  -----  -----");
        assert_eq!(lines[2], "fillseq   1,000  2.00×");
        assert_eq!(lines[3], "x");
    }

    #[test]
    fn markdown_shape() {
        let md = sample().to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "| workload | a | b\\|c |");
        assert_eq!(lines[1], "|:---|---:|---:|");
        assert_eq!(lines[3], "| x |  |  |");
    }
}

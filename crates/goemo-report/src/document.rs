//! Documents as data: headings, paragraphs, lists, tables and figures, built once and rendered to
//! Markdown (with a table of contents); a [`Table`] also writes itself as CSV, so that a table
//! and its file never disagree.

use std::fmt::Write as _;
use std::path::Path;

use crate::Result;

/// How a column's cells align: text to the left, numbers to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Left-aligned (text).
    Left,
    /// Right-aligned (numbers).
    Right,
}

/// A column of a [`Table`]: its header and alignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header text.
    pub name: String,
    /// How the column's cells align.
    pub align: Align,
}

impl Column {
    /// A left-aligned column (names, labels, notes).
    pub fn text(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            align: Align::Left,
        }
    }

    /// A right-aligned column (numbers).
    pub fn number(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            align: Align::Right,
        }
    }
}

/// A table: columns and rows of formatted cells. A row shorter than the header is padded with
/// empty cells; a longer one is cut to the header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The header.
    pub columns: Vec<Column>,
    /// Cells, one row per entry, as wide as `columns`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns and no rows.
    pub fn new(columns: impl IntoIterator<Item = Column>) -> Self {
        Table {
            columns: columns.into_iter().collect(),
            rows: vec![],
        }
    }

    /// A table whose first `text` columns are text and the others numbers.
    pub fn with_text_columns(names: &[&str], text: usize) -> Self {
        Table::new(names.iter().enumerate().map(|(i, name)| {
            if i < text {
                Column::text(*name)
            } else {
                Column::number(*name)
            }
        }))
    }

    /// Appends a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
        self
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table in GitHub Markdown; a `|` in a cell is escaped and a line break becomes a space.
    pub fn to_markdown(&self) -> String {
        let escape = |cell: &str| cell.replace('|', "\\|").replace('\n', " ");
        let line = |cells: &mut dyn Iterator<Item = String>| {
            let mut s = String::from("|");
            for cell in cells {
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
            s
        };
        let mut s = line(&mut self.columns.iter().map(|c| escape(&c.name)));
        s += &line(&mut self.columns.iter().map(|c| match c.align {
            Align::Left => "---".to_string(),
            Align::Right => "---:".to_string(),
        }));
        for row in &self.rows {
            s += &line(&mut row.iter().map(|cell| escape(cell)));
        }
        s
    }

    /// Writes the table as CSV (the header, then the rows), atomically.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        Ok(crate::write_csv_atomic(path, &header, &self.rows)?)
    }
}

/// One block of a [`Document`].
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading of level 2 (a section) or deeper; level 1 is the document's title.
    Heading {
        /// 1 for the document's title level, 2 below it, ...
        level: u8,
        /// The heading's text.
        text: String,
    },
    /// Markdown text (inline emphasis, code and links allowed).
    Paragraph(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table.
    Table(Table),
    /// An image file next to the document.
    Figure {
        /// Image file, relative to the document.
        file: String,
        /// Caption under the image.
        caption: String,
    },
    /// A highlighted remark.
    Note(String),
}

/// A document: a title and its blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The document's title.
    pub title: String,
    /// Its content, in order.
    pub blocks: Vec<Block>,
}

impl Document {
    /// An empty document with this title.
    pub fn new(title: impl Into<String>) -> Self {
        Document {
            title: title.into(),
            blocks: vec![],
        }
    }

    /// Appends a heading.
    pub fn heading(&mut self, level: u8, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading {
            level: level.max(2),
            text: text.into(),
        });
        self
    }

    /// Appends a paragraph.
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Appends a bulleted list.
    pub fn list<S: Into<String>>(&mut self, items: impl IntoIterator<Item = S>) -> &mut Self {
        let items: Vec<String> = items.into_iter().map(Into::into).collect();
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
        self
    }

    /// Appends a table.
    pub fn table(&mut self, table: Table) -> &mut Self {
        self.blocks.push(Block::Table(table));
        self
    }

    /// Appends an image with a caption.
    pub fn figure(&mut self, file: impl Into<String>, caption: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Figure {
            file: file.into(),
            caption: caption.into(),
        });
        self
    }

    /// Appends a note (a quoted paragraph).
    pub fn note(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Note(text.into()));
        self
    }

    /// Appends another document's blocks (its title is dropped).
    pub fn extend(&mut self, other: Document) -> &mut Self {
        self.blocks.extend(other.blocks);
        self
    }

    /// The headings of level 2 and 3, as a nested list of links.
    pub fn contents(&self) -> String {
        let mut s = String::new();
        for block in &self.blocks {
            if let Block::Heading { level, text } = block {
                if *level <= 3 {
                    let indent = "  ".repeat(usize::from(level - 2));
                    let _ = writeln!(s, "{indent}- [{text}](#{})", anchor(text));
                }
            }
        }
        s
    }

    /// The document in GitHub Markdown; with `contents`, a table of contents after the title.
    pub fn to_markdown(&self, contents: bool) -> String {
        let mut s = format!("# {}\n", self.title);
        if contents {
            let _ = write!(s, "\n## Contents\n\n{}", self.contents());
        }
        for block in &self.blocks {
            s.push('\n');
            match block {
                Block::Heading { level, text } => {
                    let _ = writeln!(s, "{} {text}", "#".repeat(usize::from(*level)));
                }
                Block::Paragraph(text) => {
                    let _ = writeln!(s, "{text}");
                }
                Block::List(items) => {
                    for item in items {
                        let _ = writeln!(s, "- {item}");
                    }
                }
                Block::Table(table) => s += &table.to_markdown(),
                Block::Figure { file, caption } => {
                    let _ = writeln!(s, "![{caption}]({file})");
                }
                Block::Note(text) => {
                    let _ = writeln!(s, "> {text}");
                }
            }
        }
        s
    }
}

/// GitHub's anchor of a heading: lower case, punctuation other than `-` and `_` dropped, spaces
/// as `-`.
pub fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c == ' ' {
                Some('-')
            } else if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_render_aligned_escaped_and_padded() {
        let mut t = Table::with_text_columns(&["label", "F1"], 1);
        t.row(["a|b", "0.5"]).row(["c"]);
        assert_eq!(
            t.to_markdown(),
            "| label | F1 |\n| --- | ---: |\n| a\\|b | 0.5 |\n| c |  |\n"
        );
    }

    #[test]
    fn a_table_and_its_csv_hold_the_same_cells() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Table::new([Column::text("label"), Column::number("count")]);
        t.row(["joy, mostly", "3"]);
        t.write_csv(dir.path().join("t.csv")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t.csv")).unwrap(),
            "label,count\n\"joy, mostly\",3\n"
        );
    }

    #[test]
    fn contents_link_to_github_anchors() {
        let mut d = Document::new("Model Performance");
        d.heading(2, "Per-Emotion Performance")
            .heading(3, "seeds (mean of 3)")
            .paragraph("text")
            .heading(4, "deep");
        assert_eq!(
            d.contents(),
            "- [Per-Emotion Performance](#per-emotion-performance)\n  - [seeds (mean of 3)](#seeds-mean-of-3)\n"
        );
        let md = d.to_markdown(true);
        assert!(
            md.starts_with("# Model Performance\n\n## Contents\n\n- [Per-Emotion"),
            "{md}"
        );
        assert!(md.contains("\n#### deep\n"));
    }
}

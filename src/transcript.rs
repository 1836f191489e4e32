//! A ticket as a PDF (the history's "descargar PDF"): its header (contact, channel, department,
//! number, dates, classification), every message with author and time, shared locations and
//! contacts written out, and the timeline. The text is set in DejaVu Sans, embedded in the
//! binary (`assets/fonts`, Bitstream Vera licence), so Spanish comes out exactly as written
//! and a PDF reader can extract it again.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference};

use crate::views::{MessageView, TicketView, TimelineEntry};

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
const MARGIN: f32 = 18.0;
/// Characters per line at the body size: DejaVu Sans averages about 0.55 em per character,
/// so 95 characters of 9.5 pt fill the 174 mm between the margins.
const LINE_CHARS: usize = 95;

#[derive(Debug, thiserror::Error)]
#[error("cannot build the PDF: {0}")]
pub struct TranscriptError(String);

/// Renders the transcript.
pub fn render(
    ticket: &TicketView,
    messages: &[MessageView],
    timeline: &[TimelineEntry],
) -> Result<Vec<u8>, TranscriptError> {
    let title = format!("Ticket {}", ticket.number);
    let (doc, page, layer) = PdfDocument::new(&title, Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "texto");
    let font = doc
        .add_external_font(Cursor::new(FONT))
        .map_err(|e| TranscriptError(e.to_string()))?;
    let mut out = Writer {
        layer: doc.get_page(page).get_layer(layer),
        doc: &doc,
        font,
        y: PAGE_HEIGHT - MARGIN,
    };

    out.line(&title, 16.0, 0.0);
    out.gap(2.0);
    let contact = &ticket.contact;
    out.field("Contacto", &format!("{} ({})", contact.name, contact.phone));
    out.field("Canal", &ticket.channel.name);
    out.field("Departamento", &ticket.department.name);
    out.field("Número de ticket", &ticket.number.to_string());
    out.field("Estado", state_name(ticket.state.as_str()));
    if let Some(operator) = &ticket.operator {
        out.field("Operador", &operator.name);
    }
    out.field("Abierto", &time(ticket.created_at));
    if let Some(closed) = timeline.iter().rev().find(|e| e.state.as_str() == "closed") {
        out.field("Finalizado", &time(closed.at));
    }
    if let Some(c) = &ticket.classification {
        let mut parts = Vec::new();
        if let Some(outcome) = c.outcome {
            parts.push(match outcome {
                crate::domain::classification::Outcome::Won => "ganado".to_owned(),
                crate::domain::classification::Outcome::Lost => "perdido".to_owned(),
            });
        }
        if !c.interests.is_empty() {
            parts.push(format!("intereses: {}", c.interests.join(", ")));
        }
        if let Some(rating) = c.rating {
            parts.push(format!("calificación: {rating}/5"));
        }
        if let Some(origin) = &c.origin {
            parts.push(format!("origen: {origin}"));
        }
        out.field("Clasificación", &parts.join("; "));
    }

    out.gap(4.0);
    out.line("Conversación", 12.0, 0.0);
    out.gap(1.0);
    for m in messages {
        out.line(
            &format!("{} · {}", time(m.created_at), m.author.name),
            8.5,
            0.0,
        );
        for text in message_lines(m) {
            out.wrapped(&text, 9.5, 4.0);
        }
        out.gap(1.5);
    }

    out.gap(3.0);
    out.line("Línea de tiempo", 12.0, 0.0);
    out.gap(1.0);
    for e in timeline {
        out.wrapped(
            &format!(
                "{} · {} ({})",
                time(e.at),
                state_name(e.state.as_str()),
                e.reason.replace('_', " ")
            ),
            9.0,
            0.0,
        );
    }
    doc.save_to_bytes()
        .map_err(|e| TranscriptError(e.to_string()))
}

/// What a message says, in words: its text, and what it shares.
fn message_lines(m: &MessageView) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(l) = &m.location {
        let mut place = String::from("Ubicación:");
        for part in [&l.name, &l.address].into_iter().flatten() {
            place.push(' ');
            place.push_str(part);
            place.push(',');
        }
        place.push_str(&format!(" {:.6}, {:.6}", l.latitude, l.longitude));
        lines.push(place);
    } else if let Some(c) = &m.contact {
        lines.push(format!("Contacto compartido: {}, {}", c.name, c.phone));
    } else if let Some(media) = &m.media {
        let mut file = format!("[{}]", media.kind);
        if let Some(name) = &media.filename {
            file.push(' ');
            file.push_str(name);
        }
        lines.push(file);
        lines.extend(m.text.clone());
    } else if let Some(t) = &m.template {
        lines.push(format!(
            "Plantilla: {}",
            t.get("name").and_then(|n| n.as_str()).unwrap_or("?")
        ));
    } else if m.kind == "unsupported" {
        lines.push("[mensaje no soportado]".into());
    } else if let Some(text) = &m.text {
        lines.extend(text.lines().map(str::to_owned));
    }
    if m.kind == "reaction" && m.text.is_none() {
        lines.push("[reacción quitada]".into());
    }
    lines
}

fn state_name(state: &str) -> &'static str {
    match state {
        "waiting" => "Esperando",
        "attending" => "Atendiendo",
        "paused" => "Pausado",
        "out_of_hours" => "Fuera de horario",
        _ => "Finalizado",
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Lines down the page, starting a new page when one is full.
struct Writer<'a> {
    doc: &'a PdfDocumentReference,
    layer: PdfLayerReference,
    font: IndirectFontRef,
    /// The baseline of the next line, in mm from the bottom.
    y: f32,
}

impl Writer<'_> {
    fn line(&mut self, text: &str, size: f32, indent: f32) {
        let height = size * 0.3528 * 1.35;
        if self.y - height < MARGIN {
            let (page, layer) = self.doc.add_page(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "texto");
            self.layer = self.doc.get_page(page).get_layer(layer);
            self.y = PAGE_HEIGHT - MARGIN;
        }
        self.y -= height;
        // Control characters have no glyph; a tab or a stray NUL would print as a box.
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        self.layer
            .use_text(clean, size, Mm(MARGIN + indent), Mm(self.y), &self.font);
    }

    fn wrapped(&mut self, text: &str, size: f32, indent: f32) {
        for line in textwrap::wrap(text, LINE_CHARS) {
            self.line(&line, size, indent);
        }
    }

    fn field(&mut self, label: &str, value: &str) {
        self.wrapped(&format!("{label}: {value}"), 10.0, 0.0);
    }

    fn gap(&mut self, mm: f32) {
        self.y -= mm;
    }
}

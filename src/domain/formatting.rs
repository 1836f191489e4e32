//! WhatsApp text formatting rendered to HTML for the console and transcripts:
//! `*bold*`, `_italic_`, `~strike~`, and ```` ```monospace``` ````. Like WhatsApp, a marker only
//! opens before a non-space character, closes after one, and must not be glued to a letter on the
//! outside (`2*3*4` stays as written). Everything else is HTML-escaped.

/// Renders `text` as safe HTML.
pub fn to_html(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        if chars[i..].starts_with(&['`', '`', '`'])
            && let Some(end) = find_seq(&chars, i + 3, &['`', '`', '`'])
            && end > i + 3
        {
            out.push_str("<code>");
            escape_into(&mut out, chars[i + 3..end].iter().copied());
            out.push_str("</code>");
            i = end + 3;
            continue;
        }
        if let Some(tag) = tag_for(chars[i])
            && opens_at(&chars, i)
            && let Some(end) = closing(&chars, i)
        {
            out.push_str(&format!("<{tag}>"));
            out.push_str(&to_html(&chars[i + 1..end].iter().collect::<String>()));
            out.push_str(&format!("</{tag}>"));
            i = end + 1;
            continue;
        }
        escape_into(&mut out, std::iter::once(chars[i]));
        i += 1;
    }
    out
}

fn tag_for(c: char) -> Option<&'static str> {
    match c {
        '*' => Some("strong"),
        '_' => Some("em"),
        '~' => Some("s"),
        _ => None,
    }
}

fn opens_at(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !chars[i - 1].is_alphanumeric();
    let after_ok = chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
    before_ok && after_ok
}

/// The matching closing marker on the same line, if any.
fn closing(chars: &[char], open: usize) -> Option<usize> {
    let marker = chars[open];
    (open + 2..chars.len())
        .take_while(|&j| chars[j] != '\n')
        .find(|&j| {
            chars[j] == marker
                && !chars[j - 1].is_whitespace()
                && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
        })
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j..].starts_with(seq))
}

fn escape_into(out: &mut String, chars: impl Iterator<Item = char>) {
    for c in chars {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn renders_each_marker() {
        assert_eq!(to_html("*hola*"), "<strong>hola</strong>");
        assert_eq!(to_html("es _muy_ bueno"), "es <em>muy</em> bueno");
        assert_eq!(to_html("~caro~, barato"), "<s>caro</s>, barato");
        assert_eq!(to_html("```a *b*```"), "<code>a *b*</code>");
    }

    #[test]
    fn markers_nest() {
        assert_eq!(to_html("*_ambos_*"), "<strong><em>ambos</em></strong>");
    }

    #[test]
    fn markers_need_word_boundaries_and_non_space_insides() {
        assert_eq!(to_html("2*3*4"), "2*3*4");
        assert_eq!(to_html("* no *"), "* no *");
        assert_eq!(to_html("snake_case_name"), "snake_case_name");
        assert_eq!(to_html("*abierto"), "*abierto");
        assert_eq!(to_html("*a\nb*"), "*a<br>b*");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            to_html("<script>alert('x')</script> & *<b>*"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <strong>&lt;b&gt;</strong>"
        );
    }
}

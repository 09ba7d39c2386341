//! Small wording helpers shared by every front end, so a count reads the same everywhere.

/// `1 worker`, `3 workers`, `0 workers`: a count with its noun, plural by adding `s`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_everything_else_plural() {
        assert_eq!(plural(1, "worker"), "1 worker");
        assert_eq!(plural(0, "worker"), "0 workers");
        assert_eq!(plural(12, "host"), "12 hosts");
    }
}

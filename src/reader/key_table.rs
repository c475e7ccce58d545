//! The table form of a config key: its name, shape, description and whether it is required.
//! Each check kind declares its keys once as a `FIELDS` table of these; the validator's typo
//! suggestions and the JSON Schema (`config/schema.rs`) are both read from it.

/// The shape of one config value.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// Text; numbers and booleans are read as their text.
    String,
    /// A non-negative integer (or a string that interpolates to one).
    Integer,
    /// `true`/`false` (or a string that interpolates to one).
    Bool,
    /// A duration: seconds as a number, or `500ms`, `10s`, `2m`, `1h`, `1m30s`.
    Duration,
    /// A string, or a list of strings.
    StringList,
    /// A tag, or a list of tags: words without whitespace or commas (`--tags a,b` splits on
    /// commas).
    Tags,
    /// A scalar (status or exit code, `2xx`), or a list of them.
    ScalarList,
    /// A mapping of names to text.
    StringMap,
    /// One of these words, case-insensitive (or a string that interpolates to one).
    Choice(&'static [&'static str]),
    /// A mapping with exactly these keys.
    Object(&'static [Field]),
    /// `true`, empty, or a mapping with exactly these keys.
    FlagOrObject(&'static [Field]),
    /// Text, or a mapping with exactly these keys.
    TextOrObject(&'static [Field]),
    /// A list of mappings with exactly these keys.
    ObjectList(&'static [Field]),
    /// A list of targets: strings, or mappings of names to text (`targets:` on a check).
    TargetList,
    /// Any YAML value.
    Any,
}

/// One config key: its name, shape, description and whether it is required.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The YAML key.
    pub key: &'static str,
    /// Its shape.
    pub ty: FieldType,
    /// One line for editors' hover text.
    pub description: &'static str,
    /// Whether the validator reports the key as missing.
    pub required: bool,
}

/// An optional key.
pub const fn opt(key: &'static str, ty: FieldType, description: &'static str) -> Field {
    Field {
        key,
        ty,
        description,
        required: false,
    }
}

/// A required key.
pub const fn req(key: &'static str, ty: FieldType, description: &'static str) -> Field {
    Field {
        key,
        ty,
        description,
        required: true,
    }
}

/// How many fields `groups` hold together.
pub const fn count(groups: &[&[Field]]) -> usize {
    match groups {
        [first, rest @ ..] => first.len() + count(rest),
        [] => 0,
    }
}

/// The fields of `groups`, in order, as one table of `N` (their [`count`]).
#[expect(
    clippy::indexing_slicing,
    reason = "`n` stays below `N`, the fields counted; `get_mut` is not const; an index out of bounds is a compile error here"
)]
pub const fn concat<const N: usize>(groups: &[&[Field]]) -> [Field; N] {
    let mut table = [opt("", FieldType::Any, ""); N];
    let (mut n, mut g) = (0, 0);
    while g < groups.len() {
        let group = groups[g];
        let mut i = 0;
        while i < group.len() {
            table[n] = group[i];
            (n, i) = (n + 1, i + 1);
        }
        g += 1;
    }
    table
}

/// A key table made of groups (`&[Field]` each, in order): a kind's own keys and the families
/// several kinds share (`checks::common::trust::TLS_FIELDS`…), each family written once.
macro_rules! field_table {
    ($($group:expr),+ $(,)?) => {{
        const GROUPS: &[&[$crate::reader::key_table::Field]] = &[$($group),+];
        const TABLE: [$crate::reader::key_table::Field;
            $crate::reader::key_table::count(GROUPS)] = $crate::reader::key_table::concat(GROUPS);
        &TABLE
    }};
}
pub(crate) use field_table;

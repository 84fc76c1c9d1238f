//! The workspace's shape, checked from its source text: no circles between modules, the server never
//! reaches into the command line, and SQL only in the catalogue.
//!
//! The module rule: each source file (`a.rs`, or `a/mod.rs`) of a crate is one module, and it depends
//! on module `b` when it names `b` by path: `crate::b` (also inside `use crate::{b, c::d}` groups),
//! `super::b` or `self::b`, resolved to the deepest module file the path reaches (`crate::a::b::Item`
//! is `a::b` when `a/b.rs` exists, else `a`); a name that a module re-exports with `pub use` counts as
//! the module that defines it. A file's inline modules (`mod tests { use super::*; }`) belong to the
//! file. A module using its own descendants (a parent and the children it declares) or its ancestors
//! (a child using its parent's items through `super::`) is the normal Rust structure and does not
//! count; every other dependency does, and the tests fail on each circle they find, printed as
//! `a -> b -> a` with the lines that make each step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A source file with its comments removed and its string literals blanked, so that only code is
/// left; the literals themselves are kept with their line numbers.
struct Source {
    code: String,
    strings: Vec<(usize, String)>,
}

fn lex(text: &str) -> Source {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut strings = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Keeps the line count of what is dropped.
    let blank = |c: char, code: &mut String| code.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    blank(chars[i], &mut code);
                    i += 1;
                }
            }
        } else if c == '"' || (matches!(c, 'r' | 'b') && starts_raw_or_byte_string(&chars, i)) {
            let start_line = line;
            let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
            if c != '"' && ident_before {
                code.push(c);
                i += 1;
                continue;
            }
            if c == 'b' {
                code.push(' ');
                i += 1;
            }
            let raw = chars[i] == 'r';
            let mut hashes = 0;
            if raw {
                code.push(' ');
                i += 1;
                while chars[i] == '#' {
                    hashes += 1;
                    code.push(' ');
                    i += 1;
                }
            }
            code.push(' ');
            i += 1;
            let mut literal = String::new();
            while i < chars.len() {
                let ch = chars[i];
                if !raw && ch == '\\' {
                    literal.push(ch);
                    code.push(' ');
                    i += 1;
                    if let Some(&escaped) = chars.get(i) {
                        if escaped == '\n' {
                            line += 1;
                        }
                        literal.push(escaped);
                        blank(escaped, &mut code);
                        i += 1;
                    }
                    continue;
                }
                if ch == '"' && chars[i + 1..].iter().take(hashes).all(|&h| h == '#') {
                    let closing = 1 + hashes;
                    (0..closing).for_each(|_| code.push(' '));
                    i += closing;
                    break;
                }
                if ch == '\n' {
                    line += 1;
                }
                literal.push(ch);
                blank(ch, &mut code);
                i += 1;
            }
            strings.push((start_line, literal));
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), else a lifetime or a label.
            let close = if next == Some('\\') {
                chars
                    .iter()
                    .skip(i + 3)
                    .position(|&ch| ch == '\'')
                    .map(|p| i + 3 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    (i..=end).for_each(|_| code.push(' '));
                    i = end + 1;
                }
                None => {
                    code.push(c);
                    i += 1;
                }
            }
        } else {
            if c == '\n' {
                line += 1;
            }
            code.push(c);
            i += 1;
        }
    }
    Source { code, strings }
}

/// Whether `r"`, `r#"`, `b"`, `br"` or `br#"` starts at `i`.
fn starts_raw_or_byte_string(chars: &[char], i: usize) -> bool {
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
        if chars.get(j) == Some(&'"') {
            return true;
        }
    }
    if chars.get(j) != Some(&'r') {
        return false;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// The tokens of code that matter to paths: identifiers, `::`, and single punctuation, each with
/// its line.
fn tokens(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((line, chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((line, "::".to_string()));
            i += 2;
        } else {
            out.push((line, c.to_string()));
            i += 1;
        }
    }
    out
}

type ModPath = Vec<String>;

/// One crate's module files: each module's path (`["a", "b"]` for `a/b.rs`; the crate root is `[]`)
/// and its source.
struct Crate {
    files: BTreeMap<ModPath, (PathBuf, Source)>,
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").expect("a .rs file");
    let at_top = parts.is_empty();
    if !(stem == "mod" || (at_top && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn load(src: &Path) -> Crate {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let mut files = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let module = module_path(src, &path);
        // `lib.rs` and `main.rs` are both the root; their code is read together.
        match files.get_mut(&module) {
            Some((_, source)) => {
                let source: &mut Source = source;
                let more = lex(&text);
                source.code.push('\n');
                source.code.push_str(&more.code);
                source.strings.extend(more.strings);
            }
            None => {
                files.insert(module, (path, lex(&text)));
            }
        }
    }
    Crate { files }
}

/// A path named in code, as written: its start (`crate`, `super`, `self`, or a plain name) and the
/// scope (the file's module plus the inline modules around it) it was written in.
struct Named {
    line: usize,
    scope: ModPath,
    segments: Vec<String>,
}

/// Expands a use tree or a plain path starting at `toks[i]`, appending the full paths to `out`.
fn expand(
    toks: &[(usize, String)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        let Some((_, tok)) = toks.get(i) else {
            out.push(path);
            return i;
        };
        if tok == "{" {
            i += 1;
            loop {
                match toks.get(i).map(|(_, t)| t.as_str()) {
                    Some("}") => return i + 1,
                    Some(",") => i += 1,
                    None => return i,
                    _ => {
                        let after = expand(toks, i, &path, out);
                        i = after.max(i + 1);
                    }
                }
            }
        }
        if tok == "*" {
            out.push(path);
            return i + 1;
        }
        if is_ident(tok) && tok != "as" {
            path.push(tok.clone());
            i += 1;
            if toks.get(i).map(|(_, t)| t.as_str()) == Some("::") {
                i += 1;
                continue;
            }
            if toks.get(i).map(|(_, t)| t.as_str()) == Some("as") {
                i += 2;
            }
        }
        out.push(path);
        return i;
    }
}

fn is_ident(tok: &str) -> bool {
    tok.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The paths a file names through `crate::`, `super::` and `self::`, and, for its `pub use`
/// re-exports, which name leads to which path.
fn named_paths(module: &ModPath, source: &Source) -> (Vec<Named>, BTreeMap<String, Named>) {
    let toks = tokens(&source.code);
    let mut named = Vec::new();
    let mut reexports = BTreeMap::new();
    // The inline modules open around the current token, with the brace depth each was opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let (line, tok) = (&toks[i].0, toks[i].1.as_str());
        let scope = || {
            let mut scope = module.clone();
            scope.extend(inline.iter().map(|(name, _)| name.clone()));
            scope
        };
        match tok {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
            }
            "mod" if toks.get(i + 2).is_some_and(|(_, t)| t == "{") => {
                inline.push((toks[i + 1].1.clone(), depth));
            }
            "use" => {
                let public = i > 0 && toks[i - 1].1 == "pub"
                    || i > 3 && toks[i - 1].1 == ")" && toks[i - 4].1 == "pub";
                let mut paths = Vec::new();
                let end = expand(&toks, i + 1, &[], &mut paths);
                let scope = scope();
                // The names bound, for `pub use`: the last segment, or the one after `as`.
                let mut j = i + 1;
                let mut bound = Vec::new();
                while j < end {
                    if toks[j].1 == "as" {
                        bound.push((toks[j - 1].1.clone(), toks[j + 1].1.clone()));
                    }
                    j += 1;
                }
                for segments in paths {
                    let Some(first) = segments.first() else {
                        continue;
                    };
                    // Code in a crate root names its children without `crate::`.
                    let segments = if scope.is_empty()
                        && !matches!(first.as_str(), "crate" | "super" | "self")
                    {
                        std::iter::once("crate".to_string())
                            .chain(segments)
                            .collect()
                    } else {
                        segments
                    };
                    if !matches!(segments[0].as_str(), "crate" | "super" | "self") {
                        continue;
                    }
                    if public {
                        let last = segments.last().expect("a segment").clone();
                        let name = bound
                            .iter()
                            .find(|(from, _)| *from == last)
                            .map_or(last, |(_, to)| to.clone());
                        reexports.insert(
                            name,
                            Named {
                                line: *line,
                                scope: scope.clone(),
                                segments: segments.clone(),
                            },
                        );
                    }
                    named.push(Named {
                        line: *line,
                        scope: scope.clone(),
                        segments,
                    });
                }
                i = end;
                continue;
            }
            "crate" | "super" | "self"
                if toks.get(i + 1).is_some_and(|(_, t)| t == "::")
                    && (i == 0 || !matches!(toks[i - 1].1.as_str(), "$" | "::")) =>
            {
                let mut paths = Vec::new();
                let end = expand(&toks, i, &[], &mut paths);
                let scope = scope();
                for segments in paths {
                    named.push(Named {
                        line: *line,
                        scope: scope.clone(),
                        segments,
                    });
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (named, reexports)
}

/// The crate's module graph: for each module file, the module files it depends on, with the line
/// of the first mention.
fn graph(krate: &Crate) -> BTreeMap<ModPath, BTreeMap<ModPath, usize>> {
    let mut names = BTreeMap::new();
    let mut reexports = BTreeMap::new();
    for (module, (_, source)) in &krate.files {
        let (named, pub_uses) = named_paths(module, source);
        names.insert(module.clone(), named);
        reexports.insert(module.clone(), pub_uses);
    }
    let mut edges: BTreeMap<ModPath, BTreeMap<ModPath, usize>> = BTreeMap::new();
    for (module, named) in &names {
        let entry = edges.entry(module.clone()).or_default();
        for name in named {
            let Some(target) = resolve(krate, &reexports, name, 0) else {
                continue;
            };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                entry.entry(target).or_insert(name.line);
            }
        }
    }
    edges
}

/// The module file that `name` reaches, following `pub use` re-exports.
fn resolve(
    krate: &Crate,
    reexports: &BTreeMap<ModPath, BTreeMap<String, Named>>,
    name: &Named,
    hops: usize,
) -> Option<ModPath> {
    let mut path = name.scope.clone();
    let mut rest = name.segments.iter().peekable();
    match rest.peek().map(|s| s.as_str()) {
        Some("crate") => {
            path.clear();
            rest.next();
        }
        Some("self") => {
            rest.next();
        }
        Some("super") => {
            while rest.peek().is_some_and(|s| *s == "super") {
                path.pop()?;
                rest.next();
            }
        }
        _ => return None,
    }
    // The scope may be an inline module: the file is its deepest existing prefix.
    while !krate.files.contains_key(&path) {
        path.pop()?;
    }
    for segment in rest {
        let mut deeper = path.clone();
        deeper.push(segment.clone());
        if krate.files.contains_key(&deeper) {
            path = deeper;
            continue;
        }
        if hops < 8 {
            if let Some(origin) = reexports.get(&path).and_then(|names| names.get(segment)) {
                return resolve(krate, reexports, origin, hops + 1).or(Some(path));
            }
        }
        break;
    }
    Some(path)
}

fn show(module: &ModPath) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// Every elementary circle of the graph, each starting at its smallest module.
fn circles(edges: &BTreeMap<ModPath, BTreeMap<ModPath, usize>>) -> Vec<Vec<ModPath>> {
    fn walk(
        start: &ModPath,
        at: &ModPath,
        edges: &BTreeMap<ModPath, BTreeMap<ModPath, usize>>,
        path: &mut Vec<ModPath>,
        found: &mut Vec<Vec<ModPath>>,
    ) {
        if found.len() >= 500 {
            return;
        }
        for next in edges.get(at).into_iter().flat_map(|targets| targets.keys()) {
            if next == start {
                found.push(path.clone());
            } else if next > start && !path.contains(next) {
                path.push(next.clone());
                walk(start, next, edges, path, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for start in edges.keys() {
        walk(start, start, edges, &mut vec![start.clone()], &mut found);
    }
    found
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The circles of the crate whose sources are in `src`, described with the lines that make them.
fn report_circles(src: &str) -> Vec<String> {
    let dir = workspace().join(src);
    let krate = load(&dir);
    let edges = graph(&krate);
    circles(&edges)
        .iter()
        .map(|circle| {
            let mut text = circle.iter().map(show).collect::<Vec<_>>().join(" -> ");
            text.push_str(" -> ");
            text.push_str(&show(&circle[0]));
            for (k, from) in circle.iter().enumerate() {
                let to = &circle[(k + 1) % circle.len()];
                let (file, _) = &krate.files[from];
                let file = file.strip_prefix(workspace()).unwrap_or(file);
                text.push_str(&format!(
                    "\n    {} -> {}: {}:{}",
                    show(from),
                    show(to),
                    file.display(),
                    edges[from][to]
                ));
            }
            text
        })
        .collect()
}

fn assert_no_circles(src: &str) {
    let found = report_circles(src);
    for circle in &found {
        println!("{circle}");
    }
    assert!(
        found.is_empty(),
        "{} module circle(s) in {src}:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn no_circles_in_root() {
    assert_no_circles("src");
}

#[test]
fn no_circles_in_pipeline() {
    assert_no_circles("pipeline/src");
}

#[test]
fn no_circles_in_transcriber() {
    assert_no_circles("transcriber/src");
}

#[test]
fn no_circles_in_publisher() {
    assert_no_circles("publisher/src");
}

#[test]
fn no_circles_in_session() {
    assert_no_circles("session/src");
}

#[test]
fn no_circles_in_presets() {
    assert_no_circles("presets/src");
}

/// The source files under `dir` (relative to the workspace), with their lexed text.
fn sources_under(dir: &str) -> Vec<(PathBuf, Source)> {
    let mut paths = Vec::new();
    rust_files(&workspace().join(dir), &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let rel = path
                .strip_prefix(workspace())
                .expect("under the workspace")
                .to_path_buf();
            (rel, lex(&text))
        })
        .collect()
}

/// The places under `dir` that name the root's module `module`: `module::` anywhere, or `module`
/// in a `use crate::{...}` group.
fn places_naming(dir: &str, module: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (file, source) in sources_under(dir) {
        let toks = tokens(&source.code);
        for (k, (line, tok)) in toks.iter().enumerate() {
            let path_start = toks.get(k + 1).is_some_and(|(_, t)| t == "::");
            if tok == module && path_start {
                found.push(format!("{}:{line}", file.display()));
            }
        }
        let module_of_file = module_path(&workspace().join("src"), &workspace().join(&file));
        let (named, _) = named_paths(&module_of_file, &source);
        for name in named {
            let from_crate = name.segments.first().is_some_and(|s| s == "crate");
            let place = format!("{}:{}", file.display(), name.line);
            if from_crate
                && name.segments.get(1).is_some_and(|s| s == module)
                && !found.contains(&place)
            {
                found.push(place);
            }
        }
    }
    found
}

#[test]
fn serve_never_imports_commands() {
    let found = places_naming("src/serve", "commands");
    assert!(
        found.is_empty(),
        "the server names the command line (commands::) at:\n{}",
        found.join("\n")
    );
}

/// The application layer stands below both front ends.
#[test]
fn ops_never_imports_commands_or_serve() {
    let found: Vec<String> = ["commands", "serve"]
        .iter()
        .flat_map(|m| places_naming("src/ops", m))
        .collect();
    assert!(
        found.is_empty(),
        "the operations name the command line or the server at:\n{}",
        found.join("\n")
    );
}

/// Whether a string literal reads as SQL (its words apart from how they are spaced or broken).
fn is_sql(text: &str) -> bool {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ") + " ";
    let upper_words = |words: &[&str]| {
        let mut at = 0;
        words.iter().all(|word| match text[at..].find(word) {
            Some(found) => {
                at += found + word.len();
                true
            }
            None => false,
        })
    };
    [
        &["SELECT "][..],
        &["INSERT INTO"],
        &["UPDATE ", " SET "],
        &["DELETE FROM"],
        &["CREATE TABLE"],
        &["CREATE INDEX"],
        &["ALTER TABLE"],
        &["DROP TABLE"],
    ]
    .iter()
    .any(|words| upper_words(words))
}

#[test]
fn sql_lives_in_the_catalogue() {
    let mut found = Vec::new();
    for (file, source) in sources_under("src") {
        if file.starts_with("src/catalogue") || file == Path::new("src/catalogue.rs") {
            continue;
        }
        for (line, literal) in &source.strings {
            if is_sql(literal) {
                let first = literal.split_whitespace().collect::<Vec<_>>().join(" ");
                let first: String = first.chars().take(60).collect();
                found.push(format!("{}:{line}: {first}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside src/catalogue/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_reads_paths_groups_and_inline_modules() {
    let text = r#"
        //! crate::ignored::in_comment
        use crate::{a, b::{c, Thing}};
        use super::sibling::Item as Other;
        fn f() { let s = "crate::in_string"; crate::d::call(); }
        mod tests { use super::*; }
    "#;
    let (named, _) = named_paths(&vec!["m".to_string()], &lex(text));
    let shown: Vec<String> = named
        .iter()
        .map(|n| format!("{}@{}", n.segments.join("::"), n.scope.join("::")))
        .collect();
    assert_eq!(
        shown,
        [
            "crate::a@m",
            "crate::b::c@m",
            "crate::b::Thing@m",
            "super::sibling::Item@m",
            "crate::d::call@m",
            "super@m::tests",
        ]
    );
    assert!(is_sql("SELECT id FROM sessions"));
    assert!(is_sql("UPDATE jobs\n    SET state = ?"));
    assert!(!is_sql("Update the settings"));
}

#[test]
fn a_child_using_its_parent_is_no_circle_but_siblings_are() {
    let file = |path: &str, text: &str| {
        let module: ModPath = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        (module, (PathBuf::from(path), lex(text)))
    };
    let krate = Crate {
        files: BTreeMap::from([
            file("", "pub mod a; pub mod b; pub use b::Thing;"),
            file(
                "a",
                "mod child; mod other; use crate::Thing; pub struct Y; use child::Z;",
            ),
            file(
                "a::child",
                "use super::Y; pub struct Z; use super::other::Q;",
            ),
            file("a::other", "pub struct Q; use super::{child::Z};"),
            file("b", "pub struct Thing; use crate::a::Y;"),
        ]),
    };
    let shown: Vec<String> = circles(&graph(&krate))
        .iter()
        .map(|c| c.iter().map(show).collect::<Vec<_>>().join(" -> "))
        .collect();
    assert_eq!(shown, ["a -> b", "a::child -> a::other"]);
}

//! Lexical clean-up of the absolute paths a spec names (mount destinations, readonly and
//! masked paths), before anything touches a filesystem.
//!
//! Sits under `spec`: every path the plan and the builder see went through [`normalize`],
//! so comparing two destinations is comparing two strings.

use alloc::string::String;
use alloc::vec::Vec;

use super::error::FieldProblem;

/// `//a/./b/` → `/a/b`; `/a/../b` → `/b`. A `..` that would climb above `/` is an error
/// rather than being clamped as Linux does: in a spec it is a mistake, and silently
/// mounting somewhere else than written would hide it.
pub fn normalize(path: &str) -> Result<String, FieldProblem> {
    if path.is_empty() {
        return Err(FieldProblem::Empty);
    }
    if !path.starts_with('/') {
        return Err(FieldProblem::NotAbsolute);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(FieldProblem::EscapesRoot)?;
            }
            name => parts.push(name),
        }
    }
    let mut normal = String::with_capacity(path.len());
    for part in &parts {
        normal.push('/');
        normal.push_str(part);
    }
    if normal.is_empty() {
        normal.push('/');
    }
    Ok(normal)
}

/// `dir` + `/` + `name`, without doubling the slash after `/`.
pub fn join(dir: &str, name: &str) -> String {
    let mut joined = String::with_capacity(dir.len() + 1 + name.len());
    joined.push_str(dir);
    if !dir.ends_with('/') {
        joined.push('/');
    }
    joined.push_str(name);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        for (path, normal) in [
            ("/", "/"),
            ("//", "/"),
            ("/a", "/a"),
            ("//a/./b/", "/a/b"),
            ("/a/../b", "/b"),
            ("/a/b/..", "/a"),
            ("/a/..", "/"),
            ("/.../x", "/.../x"),
        ] {
            assert_eq!(normalize(path).as_deref(), Ok(normal), "{path}");
        }
    }

    #[test]
    fn rejects_relative_empty_and_escaping() {
        assert_eq!(normalize("a/b"), Err(FieldProblem::NotAbsolute));
        assert_eq!(normalize("./a"), Err(FieldProblem::NotAbsolute));
        assert_eq!(normalize(""), Err(FieldProblem::Empty));
        assert_eq!(normalize("/.."), Err(FieldProblem::EscapesRoot));
        assert_eq!(normalize("/a/../../b"), Err(FieldProblem::EscapesRoot));
    }

    #[test]
    fn join_adds_one_slash() {
        assert_eq!(join("/", "sh"), "/sh");
        assert_eq!(join("/bin", "sh"), "/bin/sh");
        assert_eq!(join("/bin/", "sh"), "/bin/sh");
    }
}

//! A module bundle: every `*.lua` file of a deploy, named by relative path, plus a content
//! hash that identifies the bundle across the cluster (rolling upgrades compare it).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::RuntimeError;

/// One Lua module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// `require` name: relative path without `.lua`, separators replaced by `.`
    /// (`lib/util.lua` → `lib.util`).
    pub name: String,
    /// Relative path with `/` separators, used as the chunk name in error positions.
    pub path: String,
    pub source: String,
}

/// The modules of one deploy, in ascending name order, and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBundle {
    modules: Vec<Module>,
    version: String,
}

impl ModuleBundle {
    /// Loads every `*.lua` under `dir`, recursively. A missing directory is an empty bundle.
    pub fn from_dir(dir: &Path) -> Result<Self, RuntimeError> {
        if !dir.exists() {
            return Self::from_files(Vec::<(String, String)>::new());
        }
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(dir).follow_links(true) {
            let entry = entry.map_err(|e| RuntimeError::Io {
                path: e.path().unwrap_or(dir).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("directory loop")),
            })?;
            if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "lua") {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(dir)
                .map_err(|e| RuntimeError::Bundle(e.to_string()))?;
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let bytes = std::fs::read(entry.path()).map_err(|source| RuntimeError::Io {
                path: entry.path().to_path_buf(),
                source,
            })?;
            let source = String::from_utf8(bytes).map_err(|_| {
                RuntimeError::Bundle(format!("{} is not valid UTF-8", entry.path().display()))
            })?;
            files.push((rel.join("/"), source));
        }
        Self::from_files(files)
    }

    /// Builds a bundle from in-memory files: `(relative path, source)`, `/`-separated
    /// paths. Files not ending in `.lua` are ignored.
    pub fn from_files<P, S>(files: impl IntoIterator<Item = (P, S)>) -> Result<Self, RuntimeError>
    where
        P: Into<String>,
        S: Into<String>,
    {
        let mut modules = Vec::new();
        for (path, source) in files {
            let path: String = path.into().replace('\\', "/");
            let Some(stem) = path.strip_suffix(".lua") else {
                continue;
            };
            if path.starts_with('/')
                || stem
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..")
            {
                return Err(RuntimeError::Bundle(format!(
                    "invalid module path {path:?}"
                )));
            }
            modules.push(Module {
                name: stem.replace('/', "."),
                path,
                source: source.into(),
            });
        }
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = modules.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(RuntimeError::Bundle(format!(
                "{} and {} both define module {}",
                w[0].path, w[1].path, w[0].name
            )));
        }
        let version = version_of(&modules);
        Ok(ModuleBundle { modules, version })
    }

    /// Modules in ascending name order.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// Hex SHA-256 over every module's name and source.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Module> {
        self.modules
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.modules[i])
    }
}

fn version_of(modules: &[Module]) -> String {
    let mut h = Sha256::new();
    for m in modules {
        for part in [m.name.as_bytes(), m.source.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_and_version() {
        let b =
            ModuleBundle::from_files([("z.lua", "z"), ("lib/util.lua", "u"), ("notes.txt", "x")])
                .unwrap();
        let names: Vec<_> = b.modules().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["lib.util", "z"]);
        assert_eq!(b.get("lib.util").unwrap().path, "lib/util.lua");
        let same = ModuleBundle::from_files([("lib/util.lua", "u"), ("z.lua", "z")]).unwrap();
        assert_eq!(b.version(), same.version());
        let other = ModuleBundle::from_files([("lib/util.lua", "u2"), ("z.lua", "z")]).unwrap();
        assert_ne!(b.version(), other.version());
        assert_eq!(b.version().len(), 64);
    }

    #[test]
    fn rejects_duplicates_and_escapes() {
        assert!(ModuleBundle::from_files([("a/b.lua", ""), ("a.b.lua", "")]).is_err());
        assert!(ModuleBundle::from_files([("../x.lua", "")]).is_err());
        assert!(ModuleBundle::from_files([("/x.lua", "")]).is_err());
    }

    #[test]
    fn reads_a_directory_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/deep")).unwrap();
        std::fs::write(dir.path().join("main.lua"), "return 1").unwrap();
        std::fs::write(dir.path().join("lib/deep/x.lua"), "return 2").unwrap();
        std::fs::write(dir.path().join("lib/readme.md"), "no").unwrap();
        let b = ModuleBundle::from_dir(dir.path()).unwrap();
        let names: Vec<_> = b.modules().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["lib.deep.x", "main"]);
        assert!(
            ModuleBundle::from_dir(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}

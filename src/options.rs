//! Where the library lives, resolved the same way by every entry point:
//! bare `sonica`, `sonica serve`, every CLI command and `sonica-reindex`.
//!
//! `--data-dir` (or `SONICA_DATA_DIR`) wins; else the `data_dir` of the
//! TOML file named by `--config` (or `SONICA_CONFIG`); else
//! `./sonica-data`. Before this, a `--config` file's `data_dir` reached the
//! service only, so `sonica ingest` and the server could open two
//! different libraries from one configuration.

use std::path::{Path, PathBuf};

use crate::service::config::{ConfigError, FileConfig};

/// The two settings every command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LibraryArgs {
    /// Where the library lives [default: the config file's data_dir, else ./sonica-data].
    #[arg(long, global = true, env = "SONICA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML file with any of the settings (same names, snake_case); flags and environment win.
    #[arg(long, global = true, env = "SONICA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Keep the library on a Redis Cluster instead of the embedded store:
    /// comma-separated seeds, redis://host:port[,redis://host:port…]
    /// (then --data-dir holds only this node's search indexes and uploads).
    #[arg(long, global = true, env = "SONICA_CLUSTER")]
    pub cluster: Option<String>,
}

impl LibraryArgs {
    /// The configuration file's settings, or none when no file is named.
    pub fn file(&self) -> Result<FileConfig, ConfigError> {
        match &self.config {
            Some(p) => FileConfig::load(p),
            None => Ok(FileConfig::default()),
        }
    }

    /// The Redis Cluster seeds, when the library lives on one: the flag or
    /// environment, else the file's `cluster`.
    pub fn cluster(&self) -> Result<Option<String>, ConfigError> {
        if let Some(c) = &self.cluster {
            return Ok(Some(c.clone()));
        }
        Ok(self.file()?.cluster)
    }

    /// The library folder, by the order above.
    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        Ok(self
            .file()?
            .data_dir
            .unwrap_or_else(|| Path::new(crate::library::DEFAULT_DATA_DIR).to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("sonica.toml");
        std::fs::write(
            &toml,
            "data_dir = \"/srv/library\"\ncluster = \"redis://10.0.0.1:7000\"\n",
        )
        .unwrap();
        let from_file = LibraryArgs {
            data_dir: None,
            config: Some(toml.clone()),
            cluster: None,
        };
        assert_eq!(from_file.data_dir().unwrap(), PathBuf::from("/srv/library"));
        assert_eq!(from_file.cluster().unwrap().as_deref(), Some("redis://10.0.0.1:7000"));
        let flag = LibraryArgs {
            data_dir: Some("/tmp/x".into()),
            config: Some(toml),
            cluster: Some("redis://127.0.0.1:7000".into()),
        };
        assert_eq!(flag.data_dir().unwrap(), PathBuf::from("/tmp/x"));
        assert_eq!(flag.cluster().unwrap().as_deref(), Some("redis://127.0.0.1:7000"));
        assert_eq!(LibraryArgs::default().cluster().unwrap(), None);
        assert_eq!(
            LibraryArgs::default().data_dir().unwrap(),
            PathBuf::from(crate::library::DEFAULT_DATA_DIR)
        );
        let missing = LibraryArgs {
            data_dir: None,
            config: Some(dir.path().join("nope.toml")),
            cluster: None,
        };
        assert!(missing.data_dir().unwrap_err().to_string().contains("nope.toml"));
    }
}

//! Received files on disk (`[media] dir`), one file per message, named by the message's id.
//! A file is written to a temporary name, synced and then renamed, so a file under its final
//! name is always whole; a crash mid-download leaves only a temporary file, and the fetch is
//! retried.

use std::io;
use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::domain::ids::MessageId;

#[derive(Debug, Clone)]
pub struct MediaStore {
    root: PathBuf,
    /// The largest file kept; a larger download is abandoned.
    max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("downloading the file: {0}")]
    Download(String),
    #[error("writing the file: {0}")]
    Io(#[from] io::Error),
}

impl MediaStore {
    /// The store under `root`, created if missing. Blocking: start-up only.
    pub fn open(root: &Path, max_bytes: u64) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_owned(),
            max_bytes,
        })
    }

    /// Where a message's file is kept.
    pub fn path(&self, message: MessageId) -> PathBuf {
        self.root.join(message.to_string())
    }

    /// Writes a message's file from a stream of chunks; returns its size.
    pub async fn save<S, B, E>(&self, message: MessageId, mut chunks: S) -> Result<u64, SaveError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let path = self.path(message);
        let partial = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await?;
        let mut size = 0u64;
        let written: Result<(), SaveError> = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| SaveError::Download(e.to_string()))?;
                size += chunk.as_ref().len() as u64;
                if size > self.max_bytes {
                    return Err(SaveError::TooLarge(self.max_bytes));
                }
                file.write_all(chunk.as_ref()).await?;
            }
            file.sync_all().await?;
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, &path).await?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_file_is_whole_under_its_name_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&dir.path().join("media"), 8).unwrap();
        let id = MessageId::new();
        let chunks = futures_util::stream::iter(vec![
            Ok::<_, String>(b"abcd".to_vec()),
            Ok(b"efgh".to_vec()),
        ]);
        assert_eq!(store.save(id, chunks).await.unwrap(), 8);
        assert_eq!(std::fs::read(store.path(id)).unwrap(), b"abcdefgh");

        let big = MessageId::new();
        let chunks = futures_util::stream::iter(vec![Ok::<_, String>(vec![0u8; 9])]);
        assert!(matches!(
            store.save(big, chunks).await,
            Err(SaveError::TooLarge(8))
        ));
        let broken = MessageId::new();
        let chunks = futures_util::stream::iter(vec![Ok(b"ab".to_vec()), Err("reset".to_owned())]);
        assert!(matches!(
            store.save(broken, chunks).await,
            Err(SaveError::Download(_))
        ));
        for id in [big, broken] {
            assert!(!store.path(id).exists());
            assert!(!store.path(id).with_extension("partial").exists());
        }
    }
}

//! `tandem cat URI`: the head of an object, by a ranged GET (it is never read whole); on a
//! terminal, escape sequences are shown, not run.

use super::{open_store, store_failure, Failure, Global};
use crate::storage::Location;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CatArgs {
    /// `s3://bucket/key` or `local://bucket/key`
    uri: String,
    /// How many bytes from the start.
    #[arg(long, default_value_t = 65536)]
    bytes: u64,
    #[arg(long)]
    project: Option<PathBuf>,
}

impl CatArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        use std::io::{IsTerminal, Write};
        let loc = Location::parse(&self.uri);
        let Some(bucket) = loc.bucket.clone().filter(|_| !loc.key.is_empty()) else {
            return Err(Failure::bad(format!(
                "`{}`: expected s3://bucket/key or local://bucket/key",
                self.uri
            )));
        };
        let store = open_store(g, &loc, self.project.as_deref(), None).await?;
        let data = store
            .get_range(&bucket, &loc.key, 0..self.bytes)
            .await
            .map_err(store_failure)?;
        let mut out = std::io::stdout();
        // raw bytes into a pipe; on a terminal, escape sequences are shown, not run
        let r = if out.is_terminal() {
            out.write_all(crate::observe::sanitize_bytes(&data).as_bytes())
        } else {
            out.write_all(&data)
        };
        r.and_then(|_| out.flush())
            .map_err(|e| Failure::failed(e.to_string()))
    }
}

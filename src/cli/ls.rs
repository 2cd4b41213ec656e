//! `tandem ls [URI]`: buckets, prefixes and objects of S3 (`s3://bucket/prefix`) or the target's
//! directory store (`local://bucket/prefix`); `--recursive` lists folders concurrently and still
//! prints in key order.

use super::{open_store, print_json, store_failure, Failure, Global};
use crate::storage::{Entry, Location};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LsArgs {
    uri: Option<String>,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    target: Option<String>,
    #[arg(long, short)]
    recursive: bool,
    #[arg(long)]
    json: bool,
}

impl LsArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let loc = Location::parse(self.uri.as_deref().unwrap_or(""));
        let store = open_store(g, &loc, self.project.as_deref(), self.target.as_deref()).await?;
        let Some(bucket) = loc.bucket else {
            let bs = store.list_buckets().await.map_err(store_failure)?;
            if self.json {
                print_json(&bs);
            } else {
                for b in bs {
                    println!("{}/", crate::observe::sanitize(&b.name));
                }
            }
            return Ok(());
        };
        let mut all = Vec::new();
        if self.recursive {
            // folders listed concurrently, printed in key order as they complete
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            crate::storage::list_tree(&*store, &bucket, &loc.key, 16, |batch| {
                use std::io::Write;
                if self.json {
                    all.extend(batch.into_iter().map(Entry::Object));
                    return;
                }
                for o in &batch {
                    let _ = writeln!(out, "{}", ls_line(o));
                }
                let _ = out.flush();
            })
            .await
            .map_err(store_failure)?;
            drop(out);
            if self.json {
                print_json(&all);
            }
            return Ok(());
        }
        let mut token = None;
        loop {
            let page = store
                .list_page(
                    &bucket,
                    &loc.key,
                    !self.recursive,
                    token.clone(),
                    crate::storage::page_size(&token),
                )
                .await
                .map_err(store_failure)?;
            for e in &page.entries {
                if !self.json {
                    match e {
                        Entry::Prefix { prefix } => println!(
                            "{:>12}  {:<16}  {}",
                            "PRE",
                            "",
                            crate::observe::sanitize(prefix)
                        ),
                        Entry::Object(o) => println!("{}", ls_line(o)),
                    }
                }
            }
            if self.json {
                all.extend(page.entries);
            }
            match page.next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        if self.json {
            print_json(&all);
        }
        Ok(())
    }
}

/// One object as `tandem ls` prints it: size, time, key (sanitised).
fn ls_line(o: &crate::storage::ObjectMeta) -> String {
    format!(
        "{:>12}  {:<16}  {}",
        o.size,
        o.modified
            .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        crate::observe::sanitize(&o.key)
    )
}

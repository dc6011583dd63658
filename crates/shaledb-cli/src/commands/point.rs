//! `get`, `put` and `delete`: one key at a time.

use std::io::Write;

use shaledb::{WriteBatch, WriteOptions};

use crate::cli::{DeleteArgs, GetArgs, PutArgs};
use crate::codec::Codec;
use crate::error::CliError;
use crate::open::{close, open_existing, open_or_create, open_read_only};

/// Prints the value of the key, or fails with [`CliError::NotFound`].
pub fn get(args: &GetArgs, codec: Codec, out: &mut dyn Write) -> Result<(), CliError> {
    let key = codec.parse("KEY", &args.key)?;
    let db = open_read_only(&args.db)?;
    let value = db.get(&key).map_err(|e| CliError::db(&args.db, e))?;
    close(db)?;
    match value {
        Some(value) => Ok(writeln!(out, "{}", codec.show(&value))?),
        None => Err(CliError::NotFound(args.key.clone())),
    }
}

fn write_options(sync: bool) -> WriteOptions {
    WriteOptions {
        sync,
        ..Default::default()
    }
}

/// Sets the key to the value.
pub fn put(args: &PutArgs, codec: Codec) -> Result<(), CliError> {
    let key = codec.parse("KEY", &args.key)?;
    let value = codec.parse("VALUE", &args.value)?;
    let db = open_or_create(&args.db)?;
    let mut batch = WriteBatch::new();
    batch.put(key, value);
    db.write_opt(batch, &write_options(args.sync))
        .map_err(|e| CliError::db(&args.db, e))?;
    close(db)
}

/// Deletes the key.
pub fn delete(args: &DeleteArgs, codec: Codec) -> Result<(), CliError> {
    let key = codec.parse("KEY", &args.key)?;
    let db = open_existing(&args.db)?;
    let mut batch = WriteBatch::new();
    batch.delete(key);
    db.write_opt(batch, &write_options(args.sync))
        .map_err(|e| CliError::db(&args.db, e))?;
    close(db)
}

//! `list [--format table|json] [-q]`: the containers under `--root`, as runc lists them.

use liboci_cli::List;

use super::Global;
use crate::error::{Result, RuntimeError};
use crate::state::{Lock, Record};

pub fn list(global: &Global, args: &List) -> Result<()> {
    let mut records = Vec::new();
    for id in global.root.ids()? {
        // One that a delete removes meanwhile is simply not listed.
        if let Ok(record) = global
            .root
            .lock(&id, Lock::Shared)
            .and_then(|container| container.read())
        {
            records.push(record);
        }
    }
    if args.quiet {
        for record in &records {
            println!("{}", record.id);
        }
        return Ok(());
    }
    match args.format.as_str() {
        "json" => {
            let states: Vec<serde_json::Value> = records.iter().map(Record::oci_state).collect();
            println!(
                "{}",
                serde_json::to_string(&states).expect("states serialize")
            );
        }
        "table" => print!("{}", table(&records)),
        other => {
            return Err(RuntimeError::Usage(format!(
                "invalid format option {other:?} (table or json)"
            )));
        }
    }
    Ok(())
}

/// runc's columns, padded like Go's tabwriter (two spaces past the widest cell).
fn table(records: &[Record]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for record in records {
        let state = record.oci_state();
        rows.push([
            record.id.clone(),
            state["pid"].to_string(),
            state["status"].as_str().unwrap_or_default().to_owned(),
            record.bundle.display().to_string(),
            record.created.clone(),
            record.owner.clone(),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if column + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:width$}  ")
                }
            })
            .collect();
        text.push_str(cells.concat().trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{HostProcess, Status};

    #[test]
    fn table_columns() {
        let record = Record {
            id: "abc".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "T".into(),
            owner: "root".into(),
            status: Status::Stopped,
            monitor: HostProcess::default(),
            vmm: HostProcess::default(),
            exit_code: Some(0),
            annotations: Default::default(),
        };
        assert_eq!(
            table(&[record]),
            "ID   PID  STATUS   BUNDLE  CREATED  OWNER\nabc  0    stopped  /b      T        root\n"
        );
    }
}

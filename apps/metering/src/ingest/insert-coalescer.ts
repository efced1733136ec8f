/**
 * Coalesces the rows of partitions processed concurrently into one ClickHouse insert.
 *
 * kafkajs hands each partition's batch to its own eachBatch call; inserting each separately
 * would write (with the two rollup views) three parts per partition per fetch. Each eachBatch
 * call `enter`s while it runs and `submit`s its rows; the rows are inserted together as soon as
 * every running call is either waiting on a submit or on an insert already under way, or once
 * `maxRows` are pending. Each submitter learns the outcome of the insert that held its rows
 * and commits (or backs off) for its own partition only, so the offset guarantees of the
 * ingest are unchanged: an offset is committed only after the insert holding its event returned.
 */
export interface InsertCoalescer<Row> {
  /** Marks an eachBatch call as running; call the returned function when it ends. */
  enter(): () => void;
  /** Resolves once the insert holding these rows succeeded; rejects with its error. */
  submit(rows: readonly Row[]): Promise<void>;
}

interface Pending<Row> {
  rows: readonly Row[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createInsertCoalescer<Row>(
  insert: (rows: Row[]) => Promise<void>,
  maxRows: number,
): InsertCoalescer<Row> {
  let active = 0;
  let waitingOnInsert = 0;
  let pending: Pending<Row>[] = [];
  let pendingRows = 0;

  function flush(): void {
    const group = pending;
    pending = [];
    pendingRows = 0;
    waitingOnInsert += group.length;
    const rows = group.flatMap((p) => p.rows);
    insert(rows).then(
      () => {
        waitingOnInsert -= group.length;
        for (const p of group) p.resolve();
      },
      (err: unknown) => {
        waitingOnInsert -= group.length;
        for (const p of group) p.reject(err);
      },
    );
  }

  function maybeFlush(): void {
    if (pending.length === 0) return;
    if (pendingRows >= maxRows || pending.length + waitingOnInsert >= active) flush();
  }

  return {
    enter() {
      active += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active -= 1;
        maybeFlush();
      };
    },
    submit(rows) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ rows, resolve, reject });
        pendingRows += rows.length;
        maybeFlush();
      });
    },
  };
}

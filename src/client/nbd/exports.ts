/** One image served over NBD. */
export interface NbdExport {
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Shown by NBD_OPT_LIST / NBD_INFO_DESCRIPTION. */
  readonly description?: string;
  /** Exactly `length` bytes at `offset` (caller guarantees offset+length <= size). Rejects on I/O failure. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional hint: start loading this range (NBD_CMD_CACHE). */
  prefetch?(offset: number, length: number): Promise<void>;
}

/** Where exports come from: resolved per connection, by name, when the client picks one. */
export interface NbdExportSource {
  /** Names (and descriptions) for NBD_OPT_LIST. */
  list(): Promise<{ name: string; description?: string }[]>;
  /** The export called `name`, or undefined when there is none. May reject (e.g. upstream down): answer with an NBD error reply, not a crash. */
  open(name: string): Promise<NbdExport | undefined>;
}

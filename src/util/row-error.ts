/**
 * The error for bad content in one dataset row or request (chat rendering, modality items, validation, the
 * server's admission and scheduling all throw it), so every report names the row at fault.
 */
/** An error about the content of one row or request: always names it. */
export class RowError extends Error {
  constructor(
    readonly rowId: string,
    message: string,
  ) {
    super(`row ${JSON.stringify(rowId)}: ${message}`);
    this.name = 'RowError';
  }
}

/** What every command gets: where to write, and whether a script is reading. */
export interface CommandContext {
  json: boolean
  /** human text to stdout */
  out (text: string): void
  /** an API answer as JSON to stdout; returns EXIT.ok so a command can `return ctx.print(body)` */
  print (body: unknown): number
}

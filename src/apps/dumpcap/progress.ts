/**
 * dumpcap's packet count on stderr while it captures: on a terminal one line updated in
 * place (`Packets captured: 1234`, as dpdk-dumpcap shows it), at most 10 times a second;
 * otherwise (a log, a pipe) a plain line each second. -q: nothing.
 */
export class Progress {
  private readonly tty: boolean;
  private last = 0;
  private shown = -1;

  constructor(private readonly quiet: boolean) {
    this.tty = process.stderr.isTTY === true;
    if (!quiet && this.tty) process.stderr.write('Packets captured: 0');
    this.last = Date.now();
  }

  update(count: number, now: number): void {
    if (this.quiet) return;
    if (this.tty) {
      if (count !== this.shown && now - this.last >= 100) {
        this.last = now;
        this.shown = count;
        process.stderr.write(`\rPackets captured: ${count}`);
      }
    } else if (now - this.last >= 1000) {
      this.last = now;
      process.stderr.write(`Packets captured: ${count}\n`);
    }
  }

  /** The final count; ends the line in place on a terminal. */
  done(count: number): void {
    if (this.quiet) return;
    process.stderr.write(this.tty ? `\rPackets captured: ${count}\n` : `Packets captured: ${count}\n`);
  }
}

/**
 * A readers–writer turn for one kernel's DuckLake: any number of reads at once, or one write and nothing
 * else. Writers waiting go first (readers that arrive after a writer queue behind it), so a stream of reads
 * cannot starve a commit. Not reentrant: the Catalog takes it once per transaction or stand-alone statement.
 */
export class LakeLock {
  private readers = 0;
  private writing = false;
  private readonly queue: { write: boolean; wake: () => void }[] = [];

  read<T>(work: () => Promise<T>): Promise<T> {
    return this.hold(false, work);
  }

  write<T>(work: () => Promise<T>): Promise<T> {
    return this.hold(true, work);
  }

  private async hold<T>(write: boolean, work: () => Promise<T>): Promise<T> {
    await this.acquire(write);
    try {
      return await work();
    } finally {
      if (write) this.writing = false;
      else this.readers--;
      this.pump();
    }
  }

  private acquire(write: boolean): Promise<void> {
    if (!this.writing && this.queue.length === 0 && (!write || this.readers === 0)) {
      this.take(write);
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ write, wake }));
  }

  private take(write: boolean): void {
    if (write) this.writing = true;
    else this.readers++;
  }

  private pump(): void {
    while (this.queue.length && !this.writing) {
      const next = this.queue[0]!;
      if (next.write && this.readers > 0) return;
      this.queue.shift();
      this.take(next.write);
      next.wake();
      if (next.write) return;
    }
  }
}

import type { Logger } from '../lib/log.js';

/** Something the gateway started and must stop. */
export interface Stoppable {
  stop(): unknown;
}

/**
 * The gateway's running components, in the order they were started; `stopAll` stops them in the
 * reverse order — the adapters (started last, so that nothing is acknowledged before the pipeline
 * behind it is ready) first, the databases last. A component that fails to stop is logged and the
 * others are still stopped.
 */
export class Components {
  private readonly items: { name: string; part: Stoppable }[] = [];

  /** Registers a started component; returns it. */
  add<T extends Stoppable>(name: string, part: T): T {
    this.items.push({ name, part });
    return part;
  }

  /** Registers a step to run at the stop, at this point of the order (a timer, a final save). */
  onStop(name: string, stop: () => unknown): void {
    this.items.push({ name, part: { stop } });
  }

  /** The names in start order (for tests and the logs). */
  names(): string[] {
    return this.items.map((i) => i.name);
  }

  async stopAll(logger: Logger): Promise<void> {
    for (const { name, part } of this.items.splice(0).reverse()) {
      try {
        await part.stop();
      } catch (err) {
        logger.error({ err, component: name }, 'component stop failed');
      }
    }
  }
}

import type { ClientConnection } from './connection.js';
import type { Session } from './session.js';

/** The broker's sessions by client id: AWS IoT allows one connection per client id. */
export class SessionStore<P> {
  private readonly byClientId = new Map<string, Session<P>>();

  get(clientId: string): Session<P> | undefined {
    return this.byClientId.get(clientId);
  }

  set(session: Session<P>): void {
    this.byClientId.set(session.clientId, session);
  }

  /** Removes the session, unless another one has taken its client id since. */
  remove(session: Session<P>): void {
    if (this.byClientId.get(session.clientId) === session) this.byClientId.delete(session.clientId);
  }

  values(): IterableIterator<Session<P>> {
    return this.byClientId.values();
  }

  /** The connections not yet ended. */
  connections(): ClientConnection<P>[] {
    const live: ClientConnection<P>[] = [];
    for (const session of this.byClientId.values()) {
      if (session.connection) live.push(session.connection);
    }
    return live;
  }
}

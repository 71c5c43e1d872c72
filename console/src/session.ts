import { createContext } from 'preact';
import type { SessionInfo } from './api.js';

/** The signed-in user, their CSRF token and the console's settings (set once signed in). */
export const SessionContext = createContext<SessionInfo>(null as unknown as SessionInfo);

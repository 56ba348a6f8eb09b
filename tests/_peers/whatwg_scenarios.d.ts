// Types of whatwg_scenarios.js for the TypeScript tests that import it.
/** A scenario: runs with a WebSocket constructor and a ws:// base URL, resolves with its log. */
export type Scenario = (WebSocket: unknown, base: string) => Promise<string[]>;
/** The scenarios, by name. */
export declare const scenarios: Record<string, Scenario>;

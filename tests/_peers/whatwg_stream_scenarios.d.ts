// Types of whatwg_stream_scenarios.js for the TypeScript tests that import it.
/**
 * A scenario: runs with the WebSocketStream and WebSocketError constructors
 * and a ws:// base URL, resolves with its log.
 */
export type StreamScenario = (
  WebSocketStream: unknown,
  WebSocketError: unknown,
  base: string,
) => Promise<string[]>;
/** The scenarios, by name. */
export declare const scenarios: Record<string, StreamScenario>;

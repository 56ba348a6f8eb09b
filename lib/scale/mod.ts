/**
 * Scaling out: topics shared by every instance of an application through
 * Redis ({@link redisBroker}, with the application's own Redis client), and
 * one server per core ({@link runCluster}). Pass the broker as `serve()`'s
 * (or an adapter's) `broker` option; `publish()` then reaches the
 * subscribers of every instance.
 *
 * @example
 * ```ts ignore
 * // Not run: it needs a Redis server and forks workers (tests/scale/ runs both).
 * import { createClient } from "redis";
 * import { serve } from "@sprig/websocket";
 * import { redisBroker, runCluster } from "@sprig/websocket/scale";
 *
 * await runCluster(async () => {
 *   const publisher = createClient({ url: "redis://127.0.0.1:6379" });
 *   const subscriber = publisher.duplicate();
 *   await Promise.all([publisher.connect(), subscriber.connect()]);
 *   const server = await serve({
 *     port: 8080,
 *     reusePort: true,
 *     broker: redisBroker({ publisher, subscriber }),
 *   }, {
 *     init: (ctx) => void ctx.ref.subscribe("chat"),
 *     in: (message) => void server.publish("chat", message),
 *   });
 *   return server;
 * });
 * ```
 *
 * @module
 */

export {
  ioredisClient,
  type IoredisLike,
  type RedisBroker,
  redisBroker,
  type RedisBrokerOptions,
  type RedisBrokerStats,
  type RedisHistoryOptions,
  type RedisMessageListener,
  type RedisPubSubClient,
} from "./redis_broker.ts";
export {
  type ClusterOptions,
  type ClusterPrimary,
  type ClusterServer,
  type ClusterWorker,
  type ClusterWorkerInfo,
  runCluster,
} from "./cluster.ts";
export type {
  Broker,
  BrokerTarget,
  HistoryBounds,
  HistoryRead,
  SharedHistory,
} from "../server/handler/pubsub.ts";
export { BrokerError } from "../errors.ts";

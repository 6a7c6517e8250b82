import './provided-context.js';
export { closedPort, freePort } from './free-port.js';
export { randomPrefix } from './prefix.js';
export { RedisCluster, type RedisClusterOptions } from './redis-cluster.js';
export { type ClusterPerFile, clusterPerFile } from './cluster-per-file.js';
export { RedisServer, type RedisServerOptions, sleep } from './redis-server.js';
export { Mosquitto, type MosquittoOptions } from './mosquitto.js';
export { generateTlsFiles, type TlsFiles, tlsServerArgs } from './tls.js';
export {
  exitWithin,
  type ProcessExit,
  runNode,
  type StartOptions,
  startNode,
  type TestProcess,
} from './node-process.js';
export { type MemoryField, procStatusKiB, type RssSample, RssSampler } from './proc-status.js';
export { waitFor } from './wait-for.js';
export { type GiveUpExpectation, giveUpProblems, runTimed, type TimedExit } from './cli-outcome.js';
export { clearOfTurn } from './clock.js';

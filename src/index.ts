/**
 * mpdk: DPDK's multi-process model for Node.js. Everything the shipped programs use is
 * exported from here.
 */
export { Eal, MPDK_VERSION, instanceFiles, runtimeBase, type EalInitOptions } from './eal/eal.js';
export { MpdkError, UsageError, isMpdkError, type ErrorCode } from './eal/errors.js';
export { parseEalArgs, parseCoreList, parseCoreMask, EAL_USAGE, MAX_LCORE, type EalOptions, type ProcType } from './eal/options.js';
export { RobustLock, ACQUIRED, TAKEN_OVER } from './eal/lock.js';
export { checkName, MEMZONE_NAMESIZE, type Memzone } from './eal/memzone.js';
export { type HeapStats, type HeapBlock } from './eal/heap.js';
export { type ProcessInfo } from './eal/process-table.js';
export { type LcoreInfo } from './eal/lcore-table.js';
export { remoteLaunch, launchAll, waitAll, type LcoreJob, type LaunchOptions } from './eal/launch.js';
export { registerDescriber, describeAll, type ObjectDescription } from './eal/describe.js';
export { reportAndExit } from './cli/run.js';

/**
 * The telemetry commands of the layers above the EAL (the EAL serves the socket and its
 * own /eal/* commands: src/eal/telemetry*.ts). Importing this module registers them; the
 * package entry does, so every process of an mpdk program answers them.
 *
 *   ethdev.ts   /ethdev/list, /ethdev/info, /ethdev/stats, /ethdev/xstats, /ethdev/link_status
 *   mempool.ts  /mempool/list, /mempool/info
 *   mpdk.ts     /mpdk/info, /mpdk/process/*, /mpdk/lcore/usage, /mpdk/ring/*, /mpdk/audit
 */
import './ethdev.js';
import './mempool.js';
import './mpdk.js';

export { ethdevXstats, QUEUE_STAT_CNTRS } from './ethdev.js';

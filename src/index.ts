/**
 * mpdk: DPDK's multi-process model for Node.js. The public face: everything the shipped
 * programs (src/apps) use is exported from here, and they import nothing else.
 *
 * It exports concepts, not layouts: objects and their operations, read-only views for
 * inspection, constants of the API (flags, sizes, states a method returns). No table of
 * mpdk's own shared-memory layouts and no libc call is part of it; those are in
 * 'mpdk/internal' (src/internal.ts) for the library's own tests and tools, with no
 * stability promise. The byte layouts of standard formats (Ethernet, IP, UDP and TCP
 * headers, pktgen's payload, pcap files) are exported: they do not change with mpdk.
 *
 * @packageDocumentation
 */
export { Eal, MPDK_VERSION, instanceFiles, runtimeBase, type EalInitOptions, type ObserveOptions, type CommandLine } from './eal/eal.js';
export { type EalConfig } from './eal/config.js';
export { stderrLogger, type Logger, type LogLevel, type ConsoleLike } from './eal/log.js';
export { listInstances, cleanupInstance, mib, type InstanceSummary, type CleanupReport } from './eal/instances.js';
export { MpdkError, UsageError, isMpdkError, type ErrorCode } from './eal/errors.js';
export { parseEalArgs, parseCoreList, parseCoreMask, checkFilePrefix, EAL_USAGE, EAL_OPTION_NAMES, MAX_LCORE, type EalOptions, type ProcType } from './eal/options.js';
export { parseLcoreMap, cpusOfLcore, lcoreArg } from './eal/lcore-map.js';
export { DPDK_EAL_OPTIONS, type DpdkOption, type OptionEffect } from './eal/dpdk-options.js';
export {
  parseArgs, helpText, optionsHelp, parsePortmask, portmaskOf, instancePrefix, ProgramArgs, EXIT_STATUSES, FILE_PREFIX_OPTION, HUGE_DIR_OPTION, type OptionSpec, type ProgramSpec,
} from './eal/argparse.js';
export { looksLikeOption, nearest, quoteValue, wantsHelp } from './eal/option-words.js';
export { RobustLock, ACQUIRED, TAKEN_OVER } from './eal/lock.js';
export { checkName, MEMZONE_NAMESIZE, type Memzone } from './eal/memzone.js';
export { type HeapStats, type HeapBlock } from './eal/heap.js';
export { type ProcessInfo } from './eal/process-table.js';
export { type LcoreInfo, type LcoreUsage } from './eal/lcore-table.js';
export {
  registerTelemetryCommand, telemetryCommands, TELEMETRY_MAX_CONNECTIONS, MAX_OUTPUT_LEN, type TelemetryHandler, type TelValue,
} from './eal/telemetry.js';
export { telemetryDir, telemetrySocketName, TELEMETRY_SOCKET } from './eal/telemetry-dir.js';
export {
  MpIpc, MpAnswer, mpReply, MP_DATA_MAX, MP_NAME_MAX, MP_FDS_MAX, MP_QUEUE_MAX, MP_PENDING_MAX, MP_HANDLERS_MAX, MP_TIMEOUT_DEFAULT,
  type MpPeer, type MpTarget, type MpMessage, type MpHandler, type MpReply, type MpDelivery, type MpSendOptions, type MpRequestOptions,
} from './eal/mp.js';
export { InstanceEvents, type InstanceEvent, type EventType, type EventListener } from './eal/events.js';
export { ethdevXstats, QUEUE_STAT_CNTRS } from './telemetry/index.js';
export { remoteLaunch, launchAll, waitAll, type LcoreJob, type LaunchOptions } from './eal/launch.js';
export { registerDescriber, describeAll, type ObjectDescription } from './eal/describe.js';
export { Cmdline, parseLine, type Command, type CmdlineOptions, type CloseReason } from './cmdline/cmdline.js';
export { Ring, RING_EMPTY, RING_NAMESIZE, type RepairReport, type RingOptions, type WaitOptions, type Waiter, type RecordSizer } from './ring/ring.js';
export { RingView, type RingEntry } from './ring/view.js';
export { type ClaimInfo } from './ring/claims.js';
export {
  Mempool, MEMPOOL_CACHE_MAX_SIZE, MEMPOOL_NAMESIZE, ELT_FREE, ELT_IN_USE,
  type AuditReport, type ObjInit, type PoolEntry, type MempoolOptions,
} from './mempool/mempool.js';
export {
  Mbufs, PktmbufPool, MbufRx, type PktmbufPoolOptions, PKTMBUF_HEADROOM, MBUF_DEFAULT_BUF_SIZE, MBUF_PORT_INVALID, MBUF_MAX_NB_SEGS, MBUF_PRIV_ALIGN, isPktmbufPool,
  MBUF_F_RX_RSS_HASH, MBUF_F_RX_VLAN, MBUF_F_RX_VLAN_STRIPPED,
} from './mbuf/mbuf.js';
export { toeplitz, ToeplitzTable, PacketHasher, Reta, RSS_KEY_DEFAULT, RSS_KEY_SYMMETRIC, RSS_KEY_LEN, RSS_HF, RETA_SIZE_DEFAULT } from './net/rss.js';
export {
  PcapWriter, PcapReader, PcapRecord, PCAP, PCAP_REC, PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC, PCAPNG_MAGIC, LINKTYPE_ETHERNET, PCAP_MAX_CAPLEN,
  type PcapWriterOptions, type PcapReaderOptions, type CaptureFileReader,
} from './net/pcap.js';
export { PcapngReader, type PcapngReaderOptions, type PcapngIfaceInfo, type PcapngIfaceStats } from './net/pcapng-reader.js';
export { openCaptureFile, type CaptureFileOptions } from './net/pcap-file.js';
export {
  PcapngWriter, EPB_INBOUND, EPB_OUTBOUND, PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_ISB, PCAPNG_SPB,
  type PcapngSection, type PcapngInterface, type PcapngStats,
} from './net/pcapng.js';
export { compileBpf, validateBpf, bpfSource, BPF_MAXINSNS, BPF_INSN_BYTES, type BpfFilter } from './net/bpf.js';
export {
  ETH, ETHERTYPE, IPPROTO, IPV4, IPV6, UDP, TCP, PAYLOAD, PAYLOAD_MAGIC, UDP_FRAME_HLEN, UDP_FRAME_MIN, UDP_FRAME_MAX, FLOWS_MAX,
  parseMac, formatMac, writeMac, portMac, l2fwdRewrite, L2fwdRewriter, parseIpv4, formatIpv4, parseIpv6,
  internetChecksum, setIpv4Checksum, ipv4ChecksumOk, setUdpChecksum4, udpChecksumOk4, frameChecksum,
  writeEth, writeIpv4, writeIpv6, writeUdp, writeTcp, FlowSet, buildUdpFrame, UdpFrameBuilder, checkFrameSize,
  PayloadInfo, readPayload, PacketInfo, parseFrame, type FlowSpec,
} from './net/packet.js';
export { IdlePolicy, INTR_BELL, INTR_DOWN, INTR_NONE, INTR_PENDING, parseIdleMode, type IdleMode, type IdleOptions, type WakeSource, type FutexSet } from './eal/idle.js';
export {
  EthDev, type WireSide, type PortConf, type RxQueueConf, type TxQueueConf, type RssConf, type LinkStatus, type PortStats, type QueueStats, type PortInfo, type QueueInfo,
} from './ethdev/ethdev.js';
export {
  Port, Devargs, parseVdev, RssSteer, STAT_PACKETS, STAT_OCTETS, STAT_ERRORS, STAT_NOMBUF, STAT_MISSED,
  type NetDriver, type DriverPort, type RxQueue, type TxQueue, type Wire, type VdevInfo,
} from './ethdev/driver.js';
export { MAX_QUEUES, MAX_PORTS, PortState } from './ethdev/layout.js';
export { registerDriver, findDriver, driverNames } from './ethdev/registry.js';
export { checkVdevs } from './ethdev/vdev-check.js';
export { portTable, portQueues, type QueueView } from './ethdev/table.js';
export { PortOwners, PortOwnership, type PortOwnerInfo } from './ethdev/port-owner.js';
export { HOTPLUG_TIMEOUT_DEFAULT, type AttachOptions, type DetachOptions } from './ethdev/hotplug.js';
export { type PortOpOptions } from './ethdev/ethdev.js';
export { watchDeath, unwatchDeath, watchStats } from './eal/deathwatch.js';
export { installExit, normalExit } from './eal/exit.js';
export { Supervisor, joinSupervisor, type Supervised } from './eal/supervise.js';
export { thisProcess, livenessOf, identityOf, stateOf, type ProcessIdentity } from './eal/identity.js';
export { awaitFromPrimary, PRIMARY_BOUND_MS, PRIMARY_NOTICE_MS, type PrimaryWait } from './eal/primary-wait.js';
export { netMemif, memifStatus, MEMIF_DEFAULT_SOCKET, type MemifStatus } from './drivers/net/memif.js';
export { compileFilter, filterImage } from './ethdev/capture-filter.js';
export {
  CaptureReader, captureStats, CAP_DEFAULT_BYTES, CAP_MAX_SNAPLEN,
  type CaptureDir, type CaptureOptions, type CaptureCounters, type CaptureSink, type CaptureRingInfo,
} from './ethdev/capture.js';
export {
  Hands, Source, Sink, listRecords, heldHandles,
  type HandsRecord, type Held,
} from './ownership/hands.js';
export { WireSend } from './ownership/wire-send.js';
export { reclaimDead, type ReclaimReport, type PoolReclaim } from './ownership/reclaim.js';
export { auditInstance, type InstanceAudit, type PoolAudit, type AuditOptions } from './ownership/audit.js';
export { Channel, CHANNEL_NAMESIZE, CHANNEL_FRAME_BYTES, type ChannelOptions } from './channel/channel.js';
export { ChannelSender, type SendStatus, type SenderOptions } from './channel/sender.js';
export { ChannelReceiver, MessageBatch, type ReceiverOptions } from './channel/receiver.js';

// The built-in network drivers, registered with ethdev's registry when the package loads
// (ethdev depends on no driver; the drivers depend on ethdev).
import { registerBuiltinDrivers } from './drivers/net/index.js';
registerBuiltinDrivers();

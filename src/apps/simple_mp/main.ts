export function main(): number { process.stderr.write("simple_mp: not built yet\n"); return 1; }

#!/usr/bin/env node
// Makes sure the interop peers that do not come from npm are present:
// Python's `websockets` (Debian package python3-websockets, loaded by
// /usr/bin/python3) and Chromium (Debian package chromium, driven by
// playwright-core) and redis-server (the broker tests). On a Debian-like machine where we are root, a missing
// peer is installed with apt-get; otherwise the missing package is named and
// the run fails, so that no interop test silently goes missing.
//   node scripts/peers.mjs        check, and install what is missing if possible
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const peers = [
  {
    name: "Python websockets",
    apt: "python3-websockets",
    present: () =>
      spawnSync("/usr/bin/python3", ["-c", "import websockets"], { stdio: "ignore" }).status === 0,
  },
  {
    name: "Chromium",
    apt: "chromium",
    present: () => existsSync("/usr/bin/chromium"),
  },
  {
    name: "Redis",
    apt: "redis-server",
    present: () => existsSync("/usr/bin/redis-server"),
  },
];

export function ensurePeers() {
  const missing = peers.filter((p) => !p.present());
  if (missing.length === 0) return true;
  const packages = missing.map((p) => p.apt);
  const canApt = existsSync("/usr/bin/apt-get") && process.getuid?.() === 0;
  if (!canApt) {
    console.error(`Interop peers missing: ${missing.map((p) => p.name).join(", ")}.`);
    console.error(
      `Install them (Debian/Ubuntu: apt-get install ${packages.join(" ")}) and run again.`,
    );
    return false;
  }
  console.log(`Installing interop peers with apt-get: ${packages.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env });
  const still = missing.filter((p) => !p.present());
  if (r.status !== 0 || still.length > 0) {
    console.error(`Could not install: ${still.map((p) => p.apt).join(" ")}`);
    return false;
  }
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(ensurePeers() ? 0 : 1);

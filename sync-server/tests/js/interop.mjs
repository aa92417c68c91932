// The real automerge-repo JS client against crm-sync-server, driven by ../js_interop.rs.
//
//   node interop.mjs create <ws-url>          create a document, edit it after connect, wait until
//                                             the server acknowledged both, print it
//   node interop.mjs read <ws-url> <doc-url>  find a document the server has, print it
//   node interop.mjs watch <ws-url> <doc-url> <key>
//                                             find a document, print {"event":"ready"}, then wait
//                                             for a live change that sets <key>, print the document
//   node interop.mjs edit <ws-url> <doc-url> <key> <value>
//                                             find a document, set <key> = <value>, wait until the
//                                             server acknowledged it, print the document
//
// Every command prints JSON lines on stdout; the last one is the result ({"ok":true,...} or
// {"ok":false,"error":...}). Every command exits by itself: 0 on success, 1 on failure, 2 on timeout
// (INTEROP_TIMEOUT_MS, default 15000).

import { Repo, decodeHeads } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS || 15000)
const started = Date.now()

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n")
}

function finish(code, obj) {
  emit(obj)
  // Do not wait for sockets or timers: the result is out.
  process.exit(code)
}

setTimeout(
  () => finish(2, { ok: false, error: `timed out after ${TIMEOUT_MS} ms`, phase }),
  TIMEOUT_MS,
)

let phase = "start"

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function until(what, predicate) {
  phase = what
  while (!predicate()) {
    await sleep(10)
  }
}

function sameHeads(a, b) {
  if (!a || !b || a.length !== b.length) return false
  const x = [...a].sort()
  const y = [...b].sort()
  return x.every((h, i) => h === y[i])
}

/** A repo connected to the server: resolves once the `peer` answer arrived. */
async function connect(serverUrl) {
  const repo = new Repo({ network: [new WebSocketClientAdapter(serverUrl)] })
  await until("connecting", () => repo.peers.length > 0)
  const serverPeer = repo.peers[0]
  const storageId = repo.getStorageIdOfPeer(serverPeer)
  if (!storageId) {
    finish(1, { ok: false, error: "the server announced no storageId" })
  }
  return { repo, serverPeer, storageId }
}

/** Waits until the server's sync state says it has every head of the handle. */
async function serverHas(conn, handle) {
  await until("waiting for the server's acknowledgement", () =>
    sameHeads(handle.getSyncInfo(conn.storageId)?.lastHeads, handle.heads()),
  )
}

function describe(handle) {
  return {
    url: handle.url,
    documentId: handle.documentId,
    heads: decodeHeads(handle.heads()),
    doc: JSON.parse(JSON.stringify(handle.doc())),
  }
}

async function main() {
  const [command, serverUrl, docUrl, key, value] = process.argv.slice(2)
  switch (command) {
    case "create": {
      const conn = await connect(serverUrl)
      const handle = conn.repo.create({
        source: "js",
        title: "Created by the JS client",
        tags: ["interop", "automerge-repo"],
        count: 1,
      })
      await serverHas(conn, handle)
      const headsAfterCreate = decodeHeads(handle.heads())
      handle.change(d => {
        d.title = "Edited by the JS client"
        d.tags.push("edited")
        d.count = 2
      })
      await serverHas(conn, handle)
      finish(0, { ok: true, ms: Date.now() - started, headsAfterCreate, ...describe(handle) })
      break
    }
    case "read": {
      const conn = await connect(serverUrl)
      phase = "find"
      const handle = await conn.repo.find(docUrl)
      finish(0, { ok: true, ms: Date.now() - started, ...describe(handle) })
      break
    }
    case "watch": {
      const conn = await connect(serverUrl)
      phase = "find"
      const handle = await conn.repo.find(docUrl)
      const before = describe(handle)
      if (before.doc[key] !== undefined) {
        finish(1, { ok: false, error: `${key} is already set`, ...before })
      }
      let changes = 0
      handle.on("change", () => {
        changes += 1
      })
      // The server has our sync state for this document now: it will push changes to us.
      await serverHas(conn, handle)
      emit({ event: "ready", heads: before.heads })
      await until(`waiting for a live change of ${key}`, () => handle.doc()[key] !== undefined)
      finish(0, { ok: true, ms: Date.now() - started, changes, before: before.doc, ...describe(handle) })
      break
    }
    case "edit": {
      const conn = await connect(serverUrl)
      phase = "find"
      const handle = await conn.repo.find(docUrl)
      await serverHas(conn, handle)
      handle.change(d => {
        d[key] = value
      })
      await serverHas(conn, handle)
      finish(0, { ok: true, ms: Date.now() - started, ...describe(handle) })
      break
    }
    default:
      finish(1, { ok: false, error: `unknown command ${command}` })
  }
}

main().catch(e => finish(1, { ok: false, error: String(e?.stack || e), phase }))

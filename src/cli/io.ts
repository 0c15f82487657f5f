/**
 * File I/O for commands: read an input file or stdin, write a file atomically, and a progress bar for bulk runs.
 */
import {
    closeSync,
    constants,
    fchmodSync,
    fchownSync,
    promises as fs,
    fsync,
    lstatSync,
    openSync,
    readFileSync,
    readlinkSync,
    realpathSync,
    renameSync,
    rmSync,
    statSync,
    writeSync,
} from "node:fs"
import path from "node:path"
import { ErrorKind, KsopsError } from "../errors.js"

/**
 * Read a whole file, or stdin when `file` is undefined or `-` (`stdin` is only called then: touching
 * `process.stdin` costs several milliseconds of startup). A relative `file` is taken from `cwd`; messages name it as given.
 * @throws KsopsError CouldNotReadInputFile (exit 2) naming the file and the reason.
 */
export async function readInput(
    file: string | undefined,
    stdin: () => NodeJS.ReadableStream = () => process.stdin,
    cwd: string = process.cwd(),
): Promise<Uint8Array> {
    if (file === undefined || file === "-") {
        try {
            const chunks: Buffer[] = []
            for await (const chunk of stdin()) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk)
            return new Uint8Array(Buffer.concat(chunks))
        } catch (error) {
            throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error reading from stdin: ${reason(error)}`, { cause: error })
        }
    }
    try {
        // Synchronous: one small file, and it saves the thread-pool round trip on the startup path.
        return new Uint8Array(readFileSync(path.resolve(cwd, file)))
    } catch (error) {
        throw new KsopsError(ErrorKind.CouldNotReadInputFile, `error reading file ${file}: ${reason(error)}`, { cause: error })
    }
}

/** Options of {@link writeFileAtomic}. */
export interface WriteOptions {
    /** Mode of a new file. An existing file keeps its mode (unless `plaintext`). Default 0o600. */
    mode?: number
    /**
     * The bytes are plaintext secrets: the file is always 0600, also when it existed with a wider mode (the new
     * file replaces it, so no other user ever sees the plaintext through the old mode).
     */
    plaintext?: boolean
}

/** Most links followed when resolving the target of a dangling link chain (Linux' MAXSYMLINKS). */
const MAX_LINKS = 40

/**
 * The file a write to `file` has to replace: `file` itself, or, when it is a symbolic link (or a chain of them),
 * the final target, so that the link stays a link. A dangling link resolves to the file it points to.
 */
function writeTarget(file: string): string {
    try {
        return realpathSync(file)
    } catch {
        // missing file, or a dangling link: follow the links by hand
    }
    let current = path.resolve(file)
    for (let hops = 0; hops < MAX_LINKS; hops++) {
        let link: string
        try {
            if (!lstatSync(current).isSymbolicLink()) return current
            link = readlinkSync(current)
        } catch {
            return current
        }
        current = path.resolve(path.dirname(current), link)
    }
    return current
}

/**
 * Replace `file` with `bytes` atomically: write a temp file with a random name in the same folder (created with
 * `O_EXCL`, mode of the original or `mode` for a new file, 0600 for `plaintext`), give it the original's owner and
 * group where permitted, fsync it, rename it over `file`, fsync the folder. A symbolic link is followed: its final
 * target is replaced (temp file in the target's folder) and the link is left as it is, as sops does.
 * On any error the temp file is removed and the original is left as it was.
 * @throws KsopsError CouldNotWriteOutputFile (exit 3).
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const target = writeTarget(file)
    const dir = path.dirname(target)
    let mode = options.mode ?? 0o600
    let owner: { uid: number; gid: number } | undefined
    try {
        const st = statSync(target)
        mode = st.mode & 0o7777
        owner = { uid: st.uid, gid: st.gid }
    } catch {
        // a new file
    }
    if (options.plaintext === true) mode = 0o600
    // unique within this process (pid + counter); O_EXCL guards against anything left by another
    const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${(tempCounter++).toString(36)}.tmp`)
    let fd: number | undefined
    try {
        // Open, write and rename are page-cache operations: done synchronously. Only the fsync waits for the disk,
        // in the thread pool, so a bulk run overlaps the fsyncs of several files.
        fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
        if (owner !== undefined && (owner.uid !== process.geteuid?.() || owner.gid !== process.getegid?.())) {
            try {
                fchownSync(fd, owner.uid, owner.gid)
            } catch {
                // only root (or the owner, for a group it belongs to) may: the file then becomes ours
            }
        }
        // after the chown, which clears set-id bits
        fchmodSync(fd, mode)
        let offset = 0
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
        await fsyncAsync(fd)
        closeSync(fd)
        fd = undefined
        renameSync(temp, target)
    } catch (error) {
        if (fd !== undefined) {
            try {
                closeSync(fd)
            } catch {
                // already failing
            }
        }
        rmSync(temp, { force: true })
        throw new KsopsError(ErrorKind.CouldNotWriteOutputFile, `could not write output file ${file}: ${reason(error)}`, {
            cause: error,
        })
    }
    if (pendingDirSyncs) pendingDirSyncs.add(dir)
    else await syncDir(dir)
}

/** Folders whose fsync is deferred to the end of a bulk run (see {@link deferDirSyncs}). */
let pendingDirSyncs: Set<string> | undefined

/**
 * Run a bulk operation with folder fsyncs deferred: each folder that received files is synced once at the end
 * instead of after every rename. Every file is still fsynced before its rename, so a crash leaves each file either
 * old or new, never partial.
 */
export async function deferDirSyncs<T>(run: () => Promise<T>): Promise<T> {
    const outer = pendingDirSyncs
    const mine = outer ?? new Set<string>()
    pendingDirSyncs = mine
    try {
        return await run()
    } finally {
        if (outer === undefined) {
            pendingDirSyncs = undefined
            for (const dir of mine) await syncDir(dir)
        }
    }
}

let tempCounter = 0

function fsyncAsync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
        fsync(fd, (error) => (error ? reject(error) : resolve()))
    })
}

async function syncDir(dir: string): Promise<void> {
    let handle: fs.FileHandle | undefined
    try {
        handle = await fs.open(dir, constants.O_RDONLY)
        await handle.sync()
    } catch {
        // some file systems cannot fsync a directory; the rename already happened
    } finally {
        await handle?.close().catch(() => undefined)
    }
}

/**
 * Write bytes to a stream and wait until they are handed to the OS.
 */
export function writeStream(stream: NodeJS.WritableStream, bytes: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
        stream.write(bytes, (error) => (error ? reject(error) : resolve()))
    })
}

/**
 * Write to the command's standard output: with blocking writes to `io.stdoutFd` when set, else through the stream.
 */
export async function writeOut(io: { readonly stdout: NodeJS.WritableStream; readonly stdoutFd?: number }, bytes: Uint8Array | string): Promise<void> {
    if (io.stdoutFd === undefined) return writeStream(io.stdout, bytes)
    const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes
    let offset = 0
    while (offset < data.length) {
        try {
            offset += writeSync(io.stdoutFd, data, offset, data.length - offset)
        } catch (error) {
            // A non-blocking descriptor inherited from the parent: wait a moment and retry.
            if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
        }
    }
}

/** A progress display for bulk operations. */
export interface Progress {
    /** One item finished. */
    tick(label: string): void
    /** Remove the bar. */
    done(): void
}

/**
 * A progress bar on `stream` (stderr) for `total` items, drawn only when the stream is a TTY; otherwise a no-op.
 */
export function progress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
    if (!stream.isTTY || total < 2) return { tick() {}, done() {} }
    let count = 0
    const width = 24
    const draw = (label: string) => {
        const filled = Math.round((count / total) * width)
        const columns = stream.columns ?? 80
        const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${count}/${total} ${label}`
        stream.write(`\r\x1b[K${line.slice(0, Math.max(0, columns - 1))}`)
    }
    return {
        tick(label: string) {
            count++
            draw(label)
        },
        done() {
            stream.write("\r\x1b[K")
        },
    }
}

function reason(error: unknown): string {
    if (error instanceof Error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === "ENOENT") return "no such file or directory"
        if (code === "EACCES") return "permission denied"
        if (code === "EISDIR") return "is a directory"
        return error.message
    }
    return String(error)
}

/**
 * A self-signed CA and a server certificate for 127.0.0.1/localhost, made once per process with the `openssl`
 * binary in a temporary directory.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"

/** PEM material of the test CA and the server certificate. */
export interface TlsMaterial {
    caCert: string
    cert: string
    key: string
}

let cached: TlsMaterial | undefined

/** Returns the process-wide CA and server certificate, generating them on first use. */
export function tlsMaterial(): TlsMaterial {
    if (cached) return cached
    const dir = mkdtempSync(path.join(os.tmpdir(), "ksops-apiserver-tls-"))
    // the files are only openssl's input and output: read back, then removed
    try {
        const f = (name: string) => path.join(dir, name)
        const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] })
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f("ca.key"))
        openssl(
            "req", "-x509", "-new", "-key", f("ca.key"), "-out", f("ca.crt"), "-days", "3650", "-subj", "/CN=kubectl-sops-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f("server.key"))
        openssl("req", "-new", "-key", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=kube-apiserver")
        writeFileSync(
            f("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n",
        )
        openssl(
            "x509", "-req", "-in", f("server.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial",
            "-out", f("server.crt"), "-days", "3650", "-extfile", f("ext.cnf"),
        )
        cached = {
            caCert: readFileSync(f("ca.crt"), "utf8"),
            cert: readFileSync(f("server.crt"), "utf8"),
            key: readFileSync(f("server.key"), "utf8"),
        }
    } finally {
        rmSync(dir, { recursive: true, force: true })
    }
    return cached
}

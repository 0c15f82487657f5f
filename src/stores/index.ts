/**
 * Store selection: a {@link Store} per {@link Format}, and sops' file-name rule for picking a format.
 */
import { BinaryStore } from "./binary.js"
import { DotenvStore } from "./dotenv.js"
import { IniStore } from "./ini.js"
import { JsonStore } from "./json.js"
import type { Format, Store, StoreOptions } from "./store.js"
import { YamlStore } from "./yaml.js"

/**
 * The store for a format.
 * @param format - one of `yaml`, `json`, `dotenv`, `ini`, `binary`
 * @param options - indentation options (`.sops.yaml` `stores:` / `--indent`)
 */
export function storeFor(format: Format, options: StoreOptions = {}): Store {
    switch (format) {
        case "yaml":
            return new YamlStore({ indent: options.yamlIndent })
        case "json":
            return new JsonStore({ indent: options.jsonIndent })
        case "dotenv":
            return new DotenvStore()
        case "ini":
            return new IniStore()
        case "binary":
            return new BinaryStore({ indent: options.binaryIndent })
    }
}

/**
 * The format sops infers from a file name (case-sensitive suffix): `.yaml`/`.yml` → yaml, `.json` → json,
 * `.env` → dotenv, `.ini` → ini, anything else → binary.
 * @param path - a file name or path
 */
export function formatFromPath(path: string): Format {
    if (path.endsWith(".yaml") || path.endsWith(".yml")) return "yaml"
    if (path.endsWith(".json")) return "json"
    if (path.endsWith(".env")) return "dotenv"
    if (path.endsWith(".ini")) return "ini"
    return "binary"
}

/**
 * Lazy store loading for the CLI: only the format a command needs is loaded (the YAML store alone is half of the
 * store code), which keeps `kubectl sops encrypt x.yaml` inside its startup budget. Same construction as
 * `storeFor` in `src/stores/index.ts`.
 */
import type { Format, Store, StoreOptions } from "../stores/store.js"

/** The store for a format, importing only its module. */
export async function loadStore(format: Format, options: StoreOptions = {}): Promise<Store> {
    switch (format) {
        case "yaml":
            return new (await import("../stores/yaml.js")).YamlStore({ indent: options.yamlIndent })
        case "json":
            return new (await import("../stores/json.js")).JsonStore({ indent: options.jsonIndent })
        case "dotenv":
            return new (await import("../stores/dotenv.js")).DotenvStore()
        case "ini":
            return new (await import("../stores/ini.js")).IniStore()
        case "binary":
            return new (await import("../stores/binary.js")).BinaryStore({ indent: options.binaryIndent })
    }
}

/**
 * The resource types the test API server serves: built-in core/apps/apiextensions kinds (with the small schemas that
 * server-side apply and strategic merge patch need) and the served versions of the CRDs in a directory.
 */
import { readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { parseAllDocuments } from "yaml"
import type { Schema } from "./schema.js"

/** A printer column (CRD additionalPrinterColumns or a built-in table column). */
export interface PrinterColumn {
    name: string
    type: string
    jsonPath?: string
    description?: string
    priority?: number
    format?: string
}

/** One served resource (group/version/plural). */
export interface ResourceType {
    group: string
    version: string
    /** `v1` or `group/version` */
    apiVersion: string
    resource: string
    singular: string
    kind: string
    listKind: string
    namespaced: boolean
    shortNames: string[]
    categories: string[]
    verbs: string[]
    /** Structure for SSA / strategic merge (`x-struct`: undeclared object fields are structs, not maps). */
    structure: Schema
    /** The CRD's openAPIV3Schema (custom resources only): pruning, defaulting, validation. */
    crdSchema?: Schema
    statusSubresource: boolean
    /** metadata.generation is maintained */
    generation: boolean
    /** PUT without resourceVersion allowed */
    unconditionalUpdate: boolean
    readOnly?: boolean
    columns: PrinterColumn[]
    /** The CRD object (custom resources only). */
    crd?: Record<string, unknown>
}

const ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

const S = (properties: Record<string, Schema> = {}): Schema => ({ type: "object", "x-struct": true, properties })
/** A struct held by value in the Go type (always serialised, so never added or removed as a whole). */
const V = (properties: Record<string, Schema> = {}): Schema => ({ ...S(properties), "x-value": true })
const strMap: Schema = { type: "object", additionalProperties: { type: "string" } }
const anyMap: Schema = { type: "object", additionalProperties: { "x-kubernetes-preserve-unknown-fields": true } }
const set: Schema = { type: "array", "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge", items: { type: "string" } }
function listMap(keys: string[], items: Schema = S(), patchKey = keys[0]): Schema {
    return {
        type: "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": keys,
        "x-kubernetes-patch-merge-key": patchKey,
        "x-kubernetes-patch-strategy": "merge",
        items,
    }
}

/** ObjectMeta structure. */
export const objectMeta: Schema = V({
    labels: strMap,
    annotations: strMap,
    finalizers: set,
    ownerReferences: listMap(["uid"]),
    managedFields: { type: "array", items: S() },
})

const container = S({
    env: listMap(["name"]),
    ports: { ...listMap(["containerPort", "protocol"], S(), "containerPort"), "x-key-defaults": { protocol: "TCP" } },
    volumeMounts: listMap(["mountPath"]),
    volumeDevices: listMap(["devicePath"]),
    resources: V({ limits: anyMap, requests: anyMap }),
})
const podSpec = S({
    containers: { ...listMap(["name"], container), "x-value": true },
    initContainers: listMap(["name"], container),
    ephemeralContainers: listMap(["name"], container),
    volumes: listMap(["name"]),
    imagePullSecrets: listMap(["name"]),
    nodeSelector: strMap,
})
const podTemplate = V({ metadata: objectMeta, spec: { ...podSpec, "x-value": true } })

function builtin(
    group: string,
    version: string,
    kind: string,
    resource: string,
    o: {
        namespaced?: boolean
        shortNames?: string[]
        categories?: string[]
        props?: Record<string, Schema>
        generation?: boolean
        columns?: PrinterColumn[]
        verbs?: string[]
        statusSubresource?: boolean
    } = {},
): ResourceType {
    return {
        group,
        version,
        apiVersion: group ? `${group}/${version}` : version,
        resource,
        singular: kind.toLowerCase(),
        kind,
        listKind: `${kind}List`,
        namespaced: o.namespaced ?? true,
        shortNames: o.shortNames ?? [],
        categories: o.categories ?? [],
        verbs: o.verbs ?? ALL_VERBS,
        structure: S({ metadata: objectMeta, ...(o.props ?? {}) }),
        statusSubresource: o.statusSubresource ?? false,
        generation: o.generation ?? false,
        unconditionalUpdate: true,
        columns: o.columns ?? [],
    }
}

/** The built-in kinds. */
export function builtinTypes(): ResourceType[] {
    return [
        builtin("", "v1", "Namespace", "namespaces", {
            namespaced: false,
            shortNames: ["ns"],
            statusSubresource: true,
            props: { spec: V({ finalizers: { type: "array", items: { type: "string" } } }), status: V() },
            columns: [{ name: "Status", type: "string", jsonPath: ".status.phase" }],
            verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        }),
        builtin("", "v1", "Secret", "secrets", {
            props: { data: strMap, stringData: strMap },
            columns: [
                { name: "Type", type: "string", jsonPath: ".type" },
                { name: "Data", type: "integer", jsonPath: "#data" },
            ],
        }),
        builtin("", "v1", "ConfigMap", "configmaps", {
            shortNames: ["cm"],
            props: { data: strMap, binaryData: strMap },
            columns: [{ name: "Data", type: "integer", jsonPath: "#data" }],
        }),
        builtin("", "v1", "ServiceAccount", "serviceaccounts", {
            shortNames: ["sa"],
            props: { secrets: listMap(["name"]), imagePullSecrets: { type: "array", items: S() } },
            columns: [{ name: "Secrets", type: "integer", jsonPath: "#secrets" }],
        }),
        builtin("apps", "v1", "Deployment", "deployments", {
            statusSubresource: true,
            shortNames: ["deploy"],
            categories: ["all"],
            generation: true,
            props: {
                spec: V({
                    selector: { type: "object", "x-kubernetes-map-type": "atomic" },
                    template: podTemplate,
                    strategy: V(),
                }),
                status: V({ conditions: listMap(["type"]) }),
            },
            columns: [
                { name: "Ready", type: "string", jsonPath: "#ready" },
                { name: "Up-to-date", type: "integer", jsonPath: ".status.updatedReplicas" },
                { name: "Available", type: "integer", jsonPath: ".status.availableReplicas" },
            ],
        }),
    ]
}

/** Reads every CustomResourceDefinition in `*.yaml` / `*.yml` / `*.json` files of a directory. */
export function loadCrds(dir: string): Record<string, unknown>[] {
    const crds: Record<string, unknown>[] = []
    for (const file of readdirSync(dir).sort()) {
        if (!/\.(ya?ml|json)$/.test(file)) continue
        for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), "utf8"))) {
            const value = doc.toJS() as Record<string, unknown> | null
            if (value && value.kind === "CustomResourceDefinition") crds.push(value)
        }
    }
    return crds
}

/** The resource type of every served version of a CRD. */
export function crdTypes(
    // biome-ignore lint/suspicious/noExplicitAny: CRD JSON
    crd: any,
): ResourceType[] {
    const spec = crd.spec
    const names = spec.names
    // biome-ignore lint/suspicious/noExplicitAny: CRD JSON
    return spec.versions.filter((v: any) => v.served).map((v: any): ResourceType => {
        const schema: Schema = v.schema?.openAPIV3Schema ?? { type: "object", "x-kubernetes-preserve-unknown-fields": true }
        return {
            group: spec.group,
            version: v.name,
            apiVersion: `${spec.group}/${v.name}`,
            resource: names.plural,
            singular: names.singular ?? names.kind.toLowerCase(),
            kind: names.kind,
            listKind: names.listKind ?? `${names.kind}List`,
            namespaced: spec.scope === "Namespaced",
            shortNames: names.shortNames ?? [],
            categories: names.categories ?? [],
            verbs: ALL_VERBS,
            structure: { ...schema, properties: { ...(schema.properties ?? {}), metadata: objectMeta } },
            crdSchema: schema,
            statusSubresource: v.subresources?.status !== undefined,
            generation: true,
            unconditionalUpdate: false,
            columns: v.additionalPrinterColumns ?? [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
            crd,
        }
    })
}

/** The apiextensions.k8s.io/v1 CustomResourceDefinition type (read-only here). */
export function crdResourceType(): ResourceType {
    const t = builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", {
        namespaced: false,
        shortNames: ["crd", "crds"],
        verbs: ["get", "list"],
        columns: [{ name: "Created At", type: "date", jsonPath: ".metadata.creationTimestamp" }],
    })
    t.readOnly = true
    return t
}

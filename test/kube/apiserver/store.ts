/** In-memory object storage keyed by resource type, namespace and name, with a global resourceVersion counter. */
import type { ResourceType } from "./resources.js"
import { clone } from "./schema.js"

// biome-ignore lint/suspicious/noExplicitAny: JSON values
type Json = any

/** A stored-object change, as a watch event. */
export interface StoreEvent {
    type: "ADDED" | "MODIFIED" | "DELETED"
    rt: ResourceType
    object: Json
}

/** The object store. */
export class Store {
    private readonly objects = new Map<string, Json>()
    private rv = 1000
    private readonly listeners = new Set<(e: StoreEvent) => void>()

    readonly types: ResourceType[]

    constructor(types: ResourceType[]) {
        this.types = types
    }

    /** The latest resourceVersion handed out. */
    get resourceVersion(): string {
        return String(this.rv)
    }

    /** A new resourceVersion. */
    nextResourceVersion(): string {
        this.rv += 1
        return String(this.rv)
    }

    /** The type for a group/version/resource. */
    byResource(group: string, version: string, resource: string): ResourceType | undefined {
        return this.types.find((t) => t.group === group && t.version === version && t.resource === resource)
    }

    /** The type for an apiVersion and kind. */
    byKind(apiVersion: string, kind: string): ResourceType | undefined {
        return this.types.find((t) => t.apiVersion === apiVersion && t.kind === kind)
    }

    private key(rt: ResourceType, namespace: string | undefined, name: string): string {
        return `${rt.group}/${rt.resource}/${rt.namespaced ? (namespace ?? "") : ""}/${name}`
    }

    /** The stored object (not a copy). */
    get(rt: ResourceType, namespace: string | undefined, name: string): Json | undefined {
        return this.objects.get(this.key(rt, namespace, name))
    }

    /** Objects of a type, optionally in one namespace, sorted by namespace and name. */
    list(rt: ResourceType, namespace?: string): Json[] {
        const prefix = `${rt.group}/${rt.resource}/${rt.namespaced && namespace ? `${namespace}/` : ""}`
        const out: Json[] = []
        for (const [k, v] of this.objects) if (k.startsWith(prefix)) out.push(v)
        return out.sort((a, b) => {
            const ka = `${a.metadata.namespace ?? ""}/${a.metadata.name}`
            const kb = `${b.metadata.namespace ?? ""}/${b.metadata.name}`
            return ka < kb ? -1 : ka > kb ? 1 : 0
        })
    }

    /** Stores an object (already complete: resourceVersion set by the caller). */
    put(rt: ResourceType, obj: Json): void {
        const key = this.key(rt, obj.metadata.namespace, obj.metadata.name)
        const existed = this.objects.has(key)
        this.objects.set(key, obj)
        this.emit({ type: existed ? "MODIFIED" : "ADDED", rt, object: obj })
    }

    /** Removes an object. */
    delete(rt: ResourceType, namespace: string | undefined, name: string): Json | undefined {
        const key = this.key(rt, namespace, name)
        const obj = this.objects.get(key)
        if (obj === undefined) return undefined
        this.objects.delete(key)
        this.emit({ type: "DELETED", rt, object: obj })
        return obj
    }

    /** Subscribes to changes; returns the unsubscribe function. */
    subscribe(listener: (e: StoreEvent) => void): () => void {
        this.listeners.add(listener)
        return () => this.listeners.delete(listener)
    }

    private emit(e: StoreEvent): void {
        for (const l of this.listeners) l({ ...e, object: clone(e.object) })
    }
}

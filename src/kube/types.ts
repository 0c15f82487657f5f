/**
 * Kubernetes object shapes shared by the `src/kube` modules. Plain data only: no client library types.
 */

/** Object metadata: the fields kubectl-sops reads or writes; anything else passes through. */
export interface ObjectMeta {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    [k: string]: unknown
}

/** Any Kubernetes object (or a partial apply configuration of one). */
export interface KubeObject {
    apiVersion: string
    kind: string
    metadata: ObjectMeta
    [k: string]: unknown
}

/** A reference to one object. */
export interface ObjectRef {
    apiVersion: string
    kind: string
    namespace: string
    name: string
}

/** Options of the cloud KMS identity for kustomize-controller (controller level, spec §7). */
export interface IdentityOptions {
    /** AWS IRSA: the IAM role ARN for the `eks.amazonaws.com/role-arn` annotation. */
    awsRoleArn?: string
    /** GKE Workload Identity: the GCP service account e-mail for `iam.gke.io/gcp-service-account`. */
    gcpServiceAccount?: string
    /** Azure Workload Identity: client id (`azure.workload.identity/client-id`). */
    azureClientId?: string
    /** Azure Workload Identity: tenant id (`azure.workload.identity/tenant-id`). */
    azureTenantId?: string
    /** Legacy AAD Pod Identity: the `aadpodidbinding` label value (plus `AZURE_AUTH_METHOD=msi`). */
    azurePodIdentity?: string
}

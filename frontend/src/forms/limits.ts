/**
 * How long a typed name may be: the API's limits (engine/format.py NodeDoc
 * and WorkflowDoc, editor/api/serializers.py), set as `maxLength` on the
 * inputs where they are typed so a name is cut while typing, not refused on
 * save.
 */
export const LIMITS = {
  workflowName: 200,
  nodeName: 200,
  nodeId: 100,
  versionMessage: 500,
} as const;

-- Argo CD health of a privateapi.io/v1alpha1 PrivateApi, from the kstatus
-- conditions the operator writes (Ready, Reconciling, Stalled, each with
-- observedGeneration):
--   Healthy      Ready=True for the current metadata.generation
--   Degraded     Stalled=True for the current generation (a human must act:
--                invalid input, AWS access denied, a quota, a name conflict;
--                the message is AWS's)
--   Progressing  anything else: no status yet, AWS still provisioning, a spec
--                change the operator has not seen yet (a Stalled verdict about
--                an older generation is not acted on), or the object is being
--                deleted.
-- Installed as resource.customizations.health.privateapi.io_PrivateApi in
-- argocd-cm (argocd-cm.yaml next to this file carries the same text).
local hs = { status = "Progressing", message = "Waiting for the operator to report a status" }

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.message = "Deleting: the operator is removing the AWS resources"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
local function current(condition)
  local observed = condition.observedGeneration
  if observed == nil then
    observed = obj.status.observedGeneration
  end
  return generation == nil or observed == generation
end
local function text(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return condition.reason or ""
end

local ready, reconciling, stalled
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Reconciling" then
    reconciling = condition
  elseif condition.type == "Stalled" then
    stalled = condition
  end
end

if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = text(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" and current(ready) then
  hs.status = "Healthy"
  hs.message = text(ready)
  return hs
end
if (ready ~= nil and not current(ready)) or (stalled ~= nil and not current(stalled)) then
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation)
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = text(reconciling)
elseif ready ~= nil then
  hs.message = text(ready)
end
return hs

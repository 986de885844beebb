"""The provider adapters, by provider name (and printrelay's own webhook, for notifications)."""

from worker.adapters.base import Adapter, Call, Memo
from worker.adapters.idealfactory import IdealfactoryAdapter
from worker.adapters.printapi import PrintapiAdapter
from worker.adapters.printeers import PrinteersAdapter
from worker.adapters.printlane import PrintlaneAdapter
from worker.adapters.printnow import PrintnowAdapter
from worker.adapters.webhook import WebhookAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (PrinteersAdapter(), PrintapiAdapter(), IdealfactoryAdapter(), PrintnowAdapter(), PrintlaneAdapter(), WebhookAdapter())
}

__all__ = ["ADAPTERS", "Adapter", "Call", "Memo"]

"""Whether the open-items index has read what the topic held when the service started.

Lines must not be matched against a half-read index (after a restart every line would go to
suspense). The gate is the runtime's ``TopicCatchUp`` (the tenant-key readers of every
service use it too); this name is the matcher's word for it.
"""

from __future__ import annotations

from bankrec.runtime.catch_up import TopicCatchUp

IndexCatchUp = TopicCatchUp

__all__ = ["IndexCatchUp"]

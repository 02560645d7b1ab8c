"""The Docker engine boundary: connecting, local base images, a loopback registry.

The docker SDK has no type stubs; its objects cross this boundary as ``typing.Any``.
"""

from app.engine.base_images import (
    DEFAULT_BUSYBOX_TAG,
    BaseImageError,
    ImageArchive,
    busybox_image_archive,
    ensure_busybox_image,
)
from app.engine.docker_engine import (
    EngineStopped,
    EngineUnavailable,
    PushFailed,
    connect,
    engine_answers,
    engine_gone,
    engine_version,
    local_socket_path,
    push_image,
    wait_for_engine,
)
from app.engine.registry import LocalRegistry, RegistryError

__all__ = [
    "DEFAULT_BUSYBOX_TAG",
    "BaseImageError",
    "EngineStopped",
    "EngineUnavailable",
    "ImageArchive",
    "LocalRegistry",
    "PushFailed",
    "RegistryError",
    "busybox_image_archive",
    "connect",
    "engine_answers",
    "engine_gone",
    "engine_version",
    "ensure_busybox_image",
    "local_socket_path",
    "push_image",
    "wait_for_engine",
]

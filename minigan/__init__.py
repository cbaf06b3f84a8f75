"""minigan: Generative Adversarial Networks from scratch, for reading and running.

The package is layered; each layer imports only the ones before it:

    backend -> autograd -> functions -> kernels -> gradcheck -> nn -> optim -> gan
        -> data, metrics, viz, interop -> app -> cli

Start reading at ``minigan/backend.py`` (which array library runs the code),
then ``minigan/autograd.py`` (Tensor and backpropagation).

Public API at this level::

    import minigan
    import minigan.functions as F

    x = minigan.tensor([[1.0, 2.0]], requires_grad=True)
    y = F.tanh(x @ x.T).sum()
    y.backward()                     # x.grad now holds dy/dx
    minigan.gradcheck(lambda x: F.tanh(x * x), [x64], order=2)
    with minigan.detect_anomaly():   # stop at the first NaN/Inf, naming the op and the layer
        loss.backward()
"""

# The faster equals of some textbook primitives register themselves (MINIGAN_KERNELS=0: not used).
from minigan import (
    functions,
    kernels,  # noqa: E402
)
from minigan.autograd import (
    AnomalyError,
    Function,
    Tensor,
    detect_anomaly,
    enable_grad,
    grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    tensor,
)
from minigan.backend import (
    Backend,
    BackendError,
    Generator,
    default_dtype,
    get_backend,
    manual_seed,
    set_backend,
    set_default_dtype,
    to_numpy,
    use_backend,
)
from minigan.gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "Backend",
    "BackendError",
    "Function",
    "Generator",
    "GradcheckError",
    "Tensor",
    "__version__",
    "default_dtype",
    "detect_anomaly",
    "enable_grad",
    "functions",
    "get_backend",
    "grad",
    "kernels",
    "gradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
    "set_backend",
    "set_default_dtype",
    "tensor",
    "to_numpy",
    "use_backend",
]

#!/usr/bin/python3
"""fedspark's PyTorch peer: the FedAvg experiment `fedspark bench` runs, as one plain Python process.

It is what a researcher writes without a framework, and what `fedspark bench` times fedspark against: the
IDX files read into tensors, the training set dealt to K clients (iid or shards, seeded), then per round
m = max(1, round(C K)) clients sampled without replacement, each running E epochs of minibatch SGD (B examples,
learning rate lr, optional momentum) from the global model, and the global model set to the n_k / n weighted
mean of their models. Models are PyTorch's versions of fedspark's definitions of the same names (PyTorch's
default initialisation).

Output, on stdout: a header line, then one CSV line per round
  round,clients,examples,train_loss,test_loss,test_accuracy,seconds
where seconds is the round's training (sampling to the new global model), not its evaluation; notes on stderr.

Needs Debian's python3-torch (apt-get install -y python3-torch libopenblas0-pthread); run by
`bin/fedspark bench CONF`, or by hand:
  /usr/bin/python3 peers/pytorch_fedavg.py --data /usr/share/datasets/fashion-mnist --rounds 2
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

COLUMNS = ('round', 'clients', 'examples', 'train_loss', 'test_loss', 'test_accuracy', 'seconds')


def idx_tensor(path):
    """The array an IDX file holds (gzipped or not), as a uint8 tensor of its dimensions."""
    if not os.path.exists(path) and os.path.exists(path + '.gz'):
        path += '.gz'
    with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as f:
        raw = f.read()
    zero, kind, rank = struct.unpack('>HBB', raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f'{path}: not an IDX file of unsigned bytes')
    shape = struct.unpack(f'>{rank}I', raw[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(raw[4 + 4 * rank:]), dtype=torch.uint8).reshape(shape)


def dataset(folder, split):
    """(images N x 1 x 28 x 28 in [0, 1], labels N) of the 'train' or 't10k' files in folder."""
    images = idx_tensor(os.path.join(folder, f'{split}-images-idx3-ubyte'))
    labels = idx_tensor(os.path.join(folder, f'{split}-labels-idx1-ubyte'))
    return images.unsqueeze(1).float().div_(255.0), labels.long()


def clients_of(labels, k, scheme, shards_per_client, generator):
    """Each client's example indices: k equal random parts (iid), or s label-sorted shards each (shards)."""
    n = len(labels)
    if scheme == 'iid':
        return list(torch.randperm(n, generator=generator).tensor_split(k))
    if scheme == 'shards':
        by_label = torch.sort(labels, stable=True).indices
        shards = by_label.tensor_split(k * shards_per_client)
        dealt = torch.randperm(len(shards), generator=generator).view(k, shards_per_client)
        return [torch.cat([shards[j] for j in row.tolist()]) for row in dealt]
    sys.exit(f'no partition scheme {scheme} here (iid, shards)')


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


def network(name):
    """fedspark's model of this name (models/Models.java), in PyTorch."""
    relu = nn.ReLU
    if name == '2nn':  # mcmahan-2nn: 784-200-200-10
        return nn.Sequential(Flat(), nn.Linear(784, 200), relu(), nn.Linear(200, 200), relu(), nn.Linear(200, 10))
    if name == 'cnn':  # mcmahan-cnn: 5x5x32 'same', pool, 5x5x64 'same', pool, 512, 10
        return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), relu(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5, padding=2), relu(), nn.MaxPool2d(2),
                             Flat(), nn.Linear(64 * 7 * 7, 512), relu(), nn.Linear(512, 10))
    if name == 'niid-cnn':  # niid-cnn: 5x5x6, pool, 5x5x16, pool, 120, 84, 10, no padding
        return nn.Sequential(nn.Conv2d(1, 6, 5), relu(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), relu(), nn.MaxPool2d(2),
                             Flat(), nn.Linear(16 * 4 * 4, 120), relu(), nn.Linear(120, 84), relu(), nn.Linear(84, 10))
    sys.exit(f'no model {name} here (2nn, cnn, niid-cnn)')


def local_update(model, x, y, epochs, batch, lr, momentum, generator):
    """E epochs of minibatch SGD on one client's examples, in place; the sum of minibatch losses times their sizes."""
    step = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    n = len(y)
    size = n if batch <= 0 else batch
    loss_sum = 0.0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, size):
            rows = order[start:start + size]
            step.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[rows]), y[rows])
            loss.backward()
            step.step()
            loss_sum += loss.item() * len(rows)
    return loss_sum


@torch.no_grad()
def evaluate(model, x, y, chunk=1000):
    """(mean cross-entropy, accuracy) on a test set, a chunk of examples at a time."""
    loss, right = 0.0, 0
    for start in range(0, len(y), chunk):
        out = model(x[start:start + chunk])
        loss += F.cross_entropy(out, y[start:start + chunk], reduction='sum').item()
        right += (out.argmax(1) == y[start:start + chunk]).sum().item()
    return loss / len(y), right / len(y)


def arguments():
    p = argparse.ArgumentParser(description='FedAvg in one PyTorch process (fedspark bench\'s peer).')
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist', help='folder of MNIST-format IDX files')
    p.add_argument('--model', default='2nn', choices=('2nn', 'cnn', 'niid-cnn'))
    p.add_argument('--split', default='iid', choices=('iid', 'shards'))
    p.add_argument('--K', type=int, default=100, help='clients')
    p.add_argument('--shards-per-client', type=int, default=2)
    p.add_argument('--C', type=float, default=0.1, help='fraction of clients a round (C = 0: one)')
    p.add_argument('--E', type=int, default=5, help='local epochs')
    p.add_argument('--B', type=int, default=10, help='local minibatch, 0 for the whole local set')
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--momentum', type=float, default=0.0)
    p.add_argument('--rounds', type=int, default=20)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    return p.parse_args()


def main():
    a = arguments()
    began = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # the models' initialisation
    train_x, train_y = dataset(a.data, 'train')
    test_x, test_y = dataset(a.data, 't10k')
    clients = clients_of(train_y, a.K, a.split, a.shards_per_client, torch.Generator().manual_seed(a.seed))
    shards = [(train_x[i], train_y[i]) for i in clients]  # each client's own copy, as a client holds its data
    global_model, worker = network(a.model), network(a.model)
    m = max(1, round(a.C * a.K))
    sampling = torch.Generator().manual_seed(a.seed + 1)
    print(f'# peer: torch {torch.__version__}, {torch.get_num_threads()} thread(s), K={a.K} m={m}, '
          f'{sum(p.numel() for p in global_model.parameters())} parameters, ready in {time.time() - began:.2f} s',
          file=sys.stderr)
    print(','.join(COLUMNS), flush=True)
    for r in range(1, a.rounds + 1):
        start = time.time()
        chosen = torch.randperm(a.K, generator=sampling)[:m].tolist()
        shuffling = torch.Generator().manual_seed(a.seed * 1_000_003 + r)
        weighted = [torch.zeros_like(p) for p in global_model.parameters()]
        examples, loss_sum = 0, 0.0
        for k in chosen:
            x, y = shards[k]
            if len(y) == 0:
                continue
            worker.load_state_dict(global_model.state_dict())
            loss_sum += local_update(worker, x, y, a.E, a.B, a.lr, a.momentum, shuffling)
            with torch.no_grad():
                for total, p in zip(weighted, worker.parameters()):
                    total.add_(p, alpha=len(y))
            examples += len(y)
        if examples:
            with torch.no_grad():
                for p, total in zip(global_model.parameters(), weighted):
                    p.copy_(total / examples)
        seconds = time.time() - start
        test_loss, accuracy = evaluate(global_model, test_x, test_y)
        train_loss = loss_sum / max(1, examples * a.E)
        print(f'{r},{len(chosen)},{examples},{train_loss:.5f},{test_loss:.5f},{accuracy:.4f},{seconds:.3f}', flush=True)
    print(f'# peer: {a.rounds} rounds, {time.time() - began:.1f} s in all', file=sys.stderr)


if __name__ == '__main__':
    main()
